// The simulator's agenda: callbacks ordered by simulated time, ties broken by
// insertion order so that a run is a pure function of its seed.
import { MinHeap } from "../../util/heap.js";

interface Item {
  time: number;
  seq: number;
  fn: () => void;
}

const before = (a: Item, b: Item): boolean => a.time < b.time || (a.time === b.time && a.seq < b.seq);

export class EventQueue {
  private readonly heap = new MinHeap<Item>(before);
  private seq = 0;

  push(time: number, fn: () => void): void {
    this.heap.push({ time, seq: this.seq++, fn });
  }

  pop(): Item | undefined {
    return this.heap.pop();
  }

  peekTime(): number | undefined {
    return this.heap.peek()?.time;
  }

  get size(): number {
    return this.heap.size;
  }
}
