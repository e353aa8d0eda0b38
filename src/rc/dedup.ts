// The ids of events already applied, remembered for a retention measured in
// log time: a resubmission within it is acknowledged and not applied again.
// Ids are kept in the order they were applied, which is the same on every
// replica, so the table serialises to the same data everywhere. The table
// holds at most maxIds ids: beyond it new events are refused, never are ids
// forgotten early (that would let a client flood the table to replay an event). Two parallel
// lists rather than a list of pairs: hundreds of thousands of ids are live at
// once, and fewer objects mean less garbage-collector work.

export interface DedupData {
  /** Ids, oldest first. */
  ids: string[];
  /** The log time each was applied at, same order. */
  times: number[];
}

export class DedupTable {
  private readonly seen = new Set<string>();
  /** Applied order; entries before `head` are forgotten. */
  private ids: string[] = [];
  private times: number[] = [];
  private head = 0;

  constructor(
    private readonly retentionMs: number,
    private readonly maxIds: number,
  ) {}

  get size(): number {
    return this.seen.size;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  /**
   * True when no more ids fit. An id is never forgotten before its retention
   * ends, whatever clients send: a full table refuses new events instead
   * (they are rejected with code "dedup-full" and can be sent again later).
   */
  get full(): boolean {
    return this.seen.size >= this.maxIds;
  }

  remember(id: string, time: number): void {
    this.seen.add(id);
    this.ids.push(id);
    this.times.push(time);
  }

  /** Forgets the ids applied before `now - retention`. */
  expire(now: number): void {
    const cutoff = now - this.retentionMs;
    while (this.head < this.ids.length && (this.times[this.head] as number) < cutoff) this.forgetOldest();
  }

  toData(): DedupData {
    return { ids: this.ids.slice(this.head), times: this.times.slice(this.head) };
  }

  /** Takes the lists over (restore parses a fresh copy that nobody else holds). */
  static fromData(data: DedupData, retentionMs: number, maxIds: number): DedupTable {
    const t = new DedupTable(retentionMs, maxIds);
    t.ids = data.ids;
    t.times = data.times;
    for (const id of data.ids) t.seen.add(id);
    while (t.seen.size > maxIds) t.forgetOldest();
    return t;
  }

  private forgetOldest(): void {
    this.seen.delete(this.ids[this.head] as string);
    this.head++;
    // Drop the forgotten prefix now and then, so memory follows the live size.
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}
