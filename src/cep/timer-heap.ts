/**
 * The engine's timer queue: a binary min-heap ordered by (due, seq), stored as parallel arrays so
 * that comparisons read contiguous numbers instead of chasing one object per entry. It is an
 * index over the timers kept in the state, rebuilt from them on restore and never serialised.
 */
export class TimerHeap {
  private due: number[] = [];
  private seq: number[] = [];
  private proc: number[] = [];
  private key: string[] = [];
  private name: string[] = [];

  get size(): number {
    return this.due.length;
  }

  /** The first entry's fields; only meaningful when size > 0. */
  get topDue(): number {
    return this.due[0] as number;
  }
  get topSeq(): number {
    return this.seq[0] as number;
  }
  get topProc(): number {
    return this.proc[0] as number;
  }
  get topKey(): string {
    return this.key[0] as string;
  }
  get topName(): string {
    return this.name[0] as string;
  }

  push(due: number, seq: number, proc: number, key: string, name: string): void {
    const D = this.due;
    const S = this.seq;
    let i = D.length;
    D.push(due);
    S.push(seq);
    this.proc.push(proc);
    this.key.push(key);
    this.name.push(name);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = D[p] as number;
      if (pd < due || (pd === due && (S[p] as number) < seq)) break;
      this.move(p, i);
      i = p;
    }
    this.put(i, due, seq, proc, key, name);
  }

  pop(): void {
    const n = this.due.length - 1;
    if (n < 0) return;
    const due = this.due.pop() as number;
    const seq = this.seq.pop() as number;
    const proc = this.proc.pop() as number;
    const key = this.key.pop() as string;
    const name = this.name.pop() as string;
    if (n > 0) this.siftDown(0, n, due, seq, proc, key, name);
  }

  /** Keeps the entries `keep` accepts and restores heap order in linear time. */
  retain(keep: (due: number, seq: number, proc: number, key: string, name: string) => boolean): void {
    let w = 0;
    const n = this.due.length;
    for (let r = 0; r < n; r++) {
      if (
        !keep(
          this.due[r] as number,
          this.seq[r] as number,
          this.proc[r] as number,
          this.key[r] as string,
          this.name[r] as string,
        )
      )
        continue;
      if (w !== r) this.move(r, w);
      w++;
    }
    this.due.length = w;
    this.seq.length = w;
    this.proc.length = w;
    this.key.length = w;
    this.name.length = w;
    for (let i = (w >> 1) - 1; i >= 0; i--)
      this.siftDown(
        i,
        w,
        this.due[i] as number,
        this.seq[i] as number,
        this.proc[i] as number,
        this.key[i] as string,
        this.name[i] as string,
      );
  }

  private siftDown(
    start: number,
    n: number,
    due: number,
    seq: number,
    proc: number,
    key: string,
    name: string,
  ): void {
    const D = this.due;
    const S = this.seq;
    let i = start;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      let cd = D[c] as number;
      const r = c + 1;
      if (r < n) {
        const rd = D[r] as number;
        if (rd < cd || (rd === cd && (S[r] as number) < (S[c] as number))) {
          c = r;
          cd = rd;
        }
      }
      if (due < cd || (due === cd && seq < (S[c] as number))) break;
      this.move(c, i);
      i = c;
    }
    this.put(i, due, seq, proc, key, name);
  }

  private move(from: number, to: number): void {
    this.due[to] = this.due[from] as number;
    this.seq[to] = this.seq[from] as number;
    this.proc[to] = this.proc[from] as number;
    this.key[to] = this.key[from] as string;
    this.name[to] = this.name[from] as string;
  }

  private put(i: number, due: number, seq: number, proc: number, key: string, name: string): void {
    this.due[i] = due;
    this.seq[i] = seq;
    this.proc[i] = proc;
    this.key[i] = key;
    this.name[i] = name;
  }
}
