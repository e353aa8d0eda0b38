// Append messages sent to one follower and not yet acknowledged, bounded by
// count and bytes: the window of pipelined replication. A ring buffer, so the
// hot path allocates nothing.

export class Inflights {
  private readonly lastIndexes: Float64Array;
  private readonly sizes: Float64Array;
  private start = 0;
  private count = 0;
  private bytes = 0;

  constructor(
    readonly maxCount: number,
    /** 0: no byte limit. */
    readonly maxBytes: number,
  ) {
    this.lastIndexes = new Float64Array(maxCount);
    this.sizes = new Float64Array(maxCount);
  }

  /** Records a message whose last entry is `lastIndex`. */
  add(lastIndex: number, bytes: number): void {
    if (this.count >= this.maxCount) throw new Error("inflights: window is full");
    const at = (this.start + this.count) % this.maxCount;
    this.lastIndexes[at] = lastIndex;
    this.sizes[at] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is at or below `index`. */
  freeLE(index: number): void {
    while (this.count > 0) {
      const at = this.start;
      if ((this.lastIndexes[at] as number) > index) break;
      this.bytes -= this.sizes[at] as number;
      this.start = (at + 1) % this.maxCount;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message: a heartbeat answer shows the follower is alive while the window is stuck. */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.lastIndexes[this.start] as number);
  }

  full(): boolean {
    return this.count >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  get size(): number {
    return this.count;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
