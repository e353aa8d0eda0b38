// The simulated replicated state machine: a hash chain over the applied
// entries. Every apply and restore is reported to the checker, which compares
// the replicas' histories.
import type { StateMachine } from "../storage.js";
import type { Entry } from "../types.js";

export interface ApplyListener {
  onApply(node: string, entry: Entry, hashAfter: number): void;
  onRestore(node: string, lastIndex: number, hash: number): void;
}

export function fnv(h: number, data: Uint8Array): number {
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (data[i] as number), 16777619);
  return h >>> 0;
}

export class SimMachine implements StateMachine {
  hash = 2166136261;
  lastIndex = 0;
  count = 0;

  constructor(
    private readonly node: string,
    private readonly listener: ApplyListener,
    /** Snapshot padding, so that snapshots span several chunks. */
    private readonly snapshotPadding = 0,
  ) {}

  apply(entry: Entry): Uint8Array {
    if (entry.index <= this.lastIndex)
      throw new Error(`${this.node}: apply of ${entry.index} after ${this.lastIndex}`);
    this.hash = fnv(this.hash ^ entry.index, entry.data);
    this.lastIndex = entry.index;
    this.count++;
    this.listener.onApply(this.node, entry, this.hash);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setFloat64(0, entry.index);
    return out;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(24 + this.snapshotPadding);
    const v = new DataView(out.buffer);
    v.setFloat64(0, this.lastIndex);
    v.setFloat64(8, this.hash);
    v.setFloat64(16, this.count);
    return out;
  }

  restore(data: Uint8Array): void {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.lastIndex = v.getFloat64(0);
    this.hash = v.getFloat64(8);
    this.count = v.getFloat64(16);
    this.listener.onRestore(this.node, this.lastIndex, this.hash);
  }
}

export function resultIndex(result: Uint8Array): number {
  return new DataView(result.buffer, result.byteOffset, result.byteLength).getFloat64(0);
}
