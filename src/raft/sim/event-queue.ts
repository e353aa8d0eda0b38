// The simulator's agenda: callbacks ordered by simulated time, ties broken by
// insertion order so that a run is a pure function of its seed.

interface Item {
  time: number;
  seq: number;
  fn: () => void;
}

export class EventQueue {
  private heap: Item[] = [];
  private seq = 0;

  push(time: number, fn: () => void): void {
    const item = { time, seq: this.seq++, fn };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(item, h[p] as Item)) break;
      h[i] = h[p] as Item;
      i = p;
    }
    h[i] = item;
  }

  pop(): Item | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && before(h[r] as Item, h[l] as Item) ? r : l;
      if (!before(h[c] as Item, last)) break;
      h[i] = h[c] as Item;
      i = c;
    }
    h[i] = last;
    return top;
  }

  peekTime(): number | undefined {
    return this.heap[0]?.time;
  }

  get size(): number {
    return this.heap.length;
  }
}

function before(a: Item, b: Item): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
