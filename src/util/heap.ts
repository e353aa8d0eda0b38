/**
 * The one binary min-heap of the code base, ordered by a caller-supplied comparison: the CEP
 * engine's eviction candidates (an index rebuilt from the plain state, never serialised) and the
 * simulator's agenda. (The CEP timer queue keeps its timers in TimerHeap, the same algorithm in
 * parallel arrays of numbers, for its hot path.)
 */
export class MinHeap<T> {
  private items: T[] = [];

  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as T;
      if (!this.less(item, p)) break;
      items[i] = p;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    this.siftDown(0, last);
    return top;
  }

  /** Keeps only the items `keep` accepts and restores the heap order in linear time. */
  retain(keep: (item: T) => boolean): void {
    this.items = this.items.filter(keep);
    for (let i = (this.items.length >> 1) - 1; i >= 0; i--) this.siftDown(i, this.items[i] as T);
  }

  private siftDown(start: number, item: T): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(items[right] as T, items[child] as T)) child = right;
      const c = items[child] as T;
      if (!this.less(c, item)) break;
      items[i] = c;
      i = child;
    }
    items[i] = item;
  }
}
