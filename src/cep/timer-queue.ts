import { TimerHeap } from "./timer-heap.js";
import { TimerLane } from "./timer-lane.js";

/** Lanes beyond this many delays would make finding the first entry cost more than they save. */
const MAX_LANES = 8;

/**
 * The engine's timer queue: entries ordered by (due, seq), each with a reference to its timer.
 * Timers started with a fixed delay (a phase timeout given as a number) go to a lane for that
 * delay, which keeps them in order at constant cost; everything else goes to a heap. The first
 * entry is the smallest of the heap's and the lanes' first entries, so the queue yields exactly
 * the order one heap would. Like the heap, it is an index rebuilt from the state, never saved.
 */
export class TimerQueue<T> {
  private readonly heap = new TimerHeap<T>();
  private readonly lanes: TimerLane<T>[] = [];
  /** Where the first entry is: -1 the heap, i >= 0 lane i; meaningless when size is 0. */
  private from = -1;
  /** The first entry (valid when size > 0), kept up to date so that peeking costs nothing. */
  topDue = 0;
  topSeq = 0;
  topRef: T | undefined = undefined;
  size = 0;

  /** Queues an entry in the heap. */
  push(due: number, seq: number, ref: T): void {
    this.heap.push(due, seq, ref);
    this.added(due, seq, ref, -1);
  }

  /** Queues the entry of a timer started `delay` after now (due = now + delay). */
  pushDelayed(delay: number, due: number, seq: number, ref: T): void {
    const lanes = this.lanes;
    let i = 0;
    while (i < lanes.length && (lanes[i] as TimerLane<T>).delay !== delay) i++;
    if (i === lanes.length) {
      if (i === MAX_LANES) return this.push(due, seq, ref);
      lanes.push(new TimerLane<T>(delay));
    }
    const lane = lanes[i] as TimerLane<T>;
    // Always true for entries pushed as the engine does; a safe fallback if not.
    if (!lane.accepts(due, seq)) return this.push(due, seq, ref);
    lane.append(due, seq, ref);
    this.added(due, seq, ref, i);
  }

  /** Removes the first entry. */
  pop(): void {
    if (this.size === 0) return;
    if (this.from < 0) this.heap.pop();
    else (this.lanes[this.from] as TimerLane<T>).shift();
    this.size--;
    this.findTop();
  }

  /** Keeps the entries `keep` accepts. */
  retain(keep: (due: number, seq: number, ref: T) => boolean): void {
    this.heap.retain(keep);
    let size = this.heap.size;
    for (const lane of this.lanes) {
      lane.retain(keep);
      size += lane.size;
    }
    this.size = size;
    this.findTop();
  }

  private added(due: number, seq: number, ref: T, from: number): void {
    if (this.size === 0 || due < this.topDue || (due === this.topDue && seq < this.topSeq)) {
      this.topDue = due;
      this.topSeq = seq;
      this.topRef = ref;
      this.from = from;
    }
    this.size++;
  }

  private findTop(): void {
    if (this.size === 0) {
      this.topRef = undefined;
      return;
    }
    const heap = this.heap;
    let found = heap.size > 0;
    let from = -1;
    let due = found ? heap.topDue : 0;
    let seq = found ? heap.topSeq : 0;
    const lanes = this.lanes;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[i] as TimerLane<T>;
      if (lane.size === 0) continue;
      const d = lane.firstDue;
      if (!found || d < due || (d === due && lane.firstSeq < seq)) {
        found = true;
        from = i;
        due = d;
        seq = lane.firstSeq;
      }
    }
    this.from = from;
    this.topDue = due;
    this.topSeq = seq;
    this.topRef = from < 0 ? heap.topRef : (lanes[from] as TimerLane<T>).firstRef;
  }
}
