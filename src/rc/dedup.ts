// The ids of events already applied, remembered for a retention measured in
// log time: a resubmission within it is acknowledged and not applied again.
// Ids are kept in the order they were applied, which is the same on every
// replica, so the table serialises to the same data everywhere.

export interface DedupData {
  /** [id, time applied], oldest first. */
  ids: [string, number][];
}

export class DedupTable {
  private readonly times = new Map<string, number>();
  /** Applied order; entries before `head` are forgotten. */
  private order: [string, number][] = [];
  private head = 0;

  constructor(
    private readonly retentionMs: number,
    private readonly maxIds: number,
  ) {}

  get size(): number {
    return this.times.size;
  }

  has(id: string): boolean {
    return this.times.has(id);
  }

  remember(id: string, time: number): void {
    this.times.set(id, time);
    this.order.push([id, time]);
    while (this.times.size > this.maxIds) this.forgetOldest();
  }

  /** Forgets the ids applied before `now - retention`. */
  expire(now: number): void {
    const cutoff = now - this.retentionMs;
    while (this.head < this.order.length && (this.order[this.head] as [string, number])[1] < cutoff)
      this.forgetOldest();
  }

  toData(): DedupData {
    return { ids: this.order.slice(this.head) };
  }

  static fromData(data: DedupData, retentionMs: number, maxIds: number): DedupTable {
    const t = new DedupTable(retentionMs, maxIds);
    // The parsed list becomes the table's own (restore parses a fresh copy).
    t.order = data.ids;
    for (const [id, time] of data.ids) t.times.set(id, time);
    while (t.times.size > maxIds) t.forgetOldest();
    return t;
  }

  private forgetOldest(): void {
    const [id] = this.order[this.head] as [string, number];
    this.times.delete(id);
    this.head++;
    // Drop the forgotten prefix now and then, so memory follows the live size.
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
