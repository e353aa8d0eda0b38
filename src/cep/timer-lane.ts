/**
 * A first-in first-out run of timer entries that arrive already in (due, seq) order. Timers
 * started with one fixed delay do: time never goes back and sequence numbers only grow, so each
 * new one falls due no earlier than those before it. Appending and taking the first entry are
 * then constant time, where a heap pays a logarithm for both. A ring buffer (capacity a power of
 * two, doubled when full), so that neither end ever moves the entries.
 */
export class TimerLane<T> {
  private due = new Float64Array(16);
  // Sequence numbers are integers below 2^53: exact in a Float64Array.
  private seq = new Float64Array(16);
  private ref: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined);
  private mask = 15;
  private head = 0;
  size = 0;

  constructor(
    /** The delay every timer in this lane was started with. */
    readonly delay: number,
  ) {}

  /** The first entry's fields; only meaningful when size > 0. */
  get firstDue(): number {
    return this.due[this.head] as number;
  }
  get firstSeq(): number {
    return this.seq[this.head] as number;
  }
  get firstRef(): T {
    return this.ref[this.head] as T;
  }

  /** Whether (due, seq) can go last without breaking the order. */
  accepts(due: number, seq: number): boolean {
    if (this.size === 0) return true;
    const last = (this.head + this.size - 1) & this.mask;
    const d = this.due[last] as number;
    return d < due || (d === due && (this.seq[last] as number) < seq);
  }

  /** Appends an entry; the caller has checked `accepts`. */
  append(due: number, seq: number, ref: T): void {
    if (this.size > this.mask) this.grow();
    const at = (this.head + this.size) & this.mask;
    this.due[at] = due;
    this.seq[at] = seq;
    this.ref[at] = ref;
    this.size++;
  }

  shift(): void {
    if (this.size === 0) return;
    this.ref[this.head] = undefined; // let the timer record go
    this.head = (this.head + 1) & this.mask;
    this.size--;
  }

  /** Keeps the entries `keep` accepts, in order. */
  retain(keep: (due: number, seq: number, ref: T) => boolean): void {
    const n = this.size;
    let w = 0;
    for (let r = 0; r < n; r++) {
      const from = (this.head + r) & this.mask;
      const due = this.due[from] as number;
      const seq = this.seq[from] as number;
      const ref = this.ref[from] as T;
      this.ref[from] = undefined;
      if (!keep(due, seq, ref)) continue;
      const to = (this.head + w) & this.mask;
      this.due[to] = due;
      this.seq[to] = seq;
      this.ref[to] = ref;
      w++;
    }
    this.size = w;
  }

  private grow(): void {
    const cap = this.mask + 1;
    const due = new Float64Array(cap * 2);
    const seq = new Float64Array(cap * 2);
    const ref = new Array<T | undefined>(cap * 2).fill(undefined);
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) & this.mask;
      due[i] = this.due[from] as number;
      seq[i] = this.seq[from] as number;
      ref[i] = this.ref[from];
    }
    this.due = due;
    this.seq = seq;
    this.ref = ref;
    this.mask = cap * 2 - 1;
    this.head = 0;
  }
}
