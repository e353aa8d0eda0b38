/**
 * The heap part of the engine's timer queue (see TimerQueue): a binary min-heap ordered by
 * (due, seq), stored as parallel arrays so that comparisons read contiguous numbers instead of
 * chasing one object per entry. Each entry also carries a reference to the timer it stands for. It is an index over the timers kept in
 * the state, rebuilt from them on restore and never serialised.
 */
export class TimerHeap<T> {
  private due: number[] = [];
  private seq: number[] = [];
  private ref: T[] = [];

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
  get topRef(): T {
    return this.ref[0] as T;
  }

  push(due: number, seq: number, ref: T): void {
    const D = this.due;
    const S = this.seq;
    const R = this.ref;
    let i = D.length;
    D.push(due);
    S.push(seq);
    R.push(ref);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pd = D[p] as number;
      if (pd < due || (pd === due && (S[p] as number) < seq)) break;
      D[i] = pd;
      S[i] = S[p] as number;
      R[i] = R[p] as T;
      i = p;
    }
    D[i] = due;
    S[i] = seq;
    R[i] = ref;
  }

  pop(): void {
    const n = this.due.length - 1;
    if (n < 0) return;
    const due = this.due.pop() as number;
    const seq = this.seq.pop() as number;
    const ref = this.ref.pop() as T;
    if (n > 0) this.siftDown(0, n, due, seq, ref);
  }

  /** Keeps the entries `keep` accepts and restores heap order in linear time. */
  retain(keep: (due: number, seq: number, ref: T) => boolean): void {
    const D = this.due;
    const S = this.seq;
    const R = this.ref;
    let w = 0;
    for (let r = 0; r < D.length; r++) {
      if (!keep(D[r] as number, S[r] as number, R[r] as T)) continue;
      D[w] = D[r] as number;
      S[w] = S[r] as number;
      R[w] = R[r] as T;
      w++;
    }
    D.length = w;
    S.length = w;
    R.length = w;
    for (let i = (w >> 1) - 1; i >= 0; i--) this.siftDown(i, w, D[i] as number, S[i] as number, R[i] as T);
  }

  private siftDown(start: number, n: number, due: number, seq: number, ref: T): void {
    const D = this.due;
    const S = this.seq;
    const R = this.ref;
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
      D[i] = cd;
      S[i] = S[c] as number;
      R[i] = R[c] as T;
      i = c;
    }
    D[i] = due;
    S[i] = seq;
    R[i] = ref;
  }
}
