// Wraps the replica's state machine so that a proposer learns where its entry
// landed: the driver resolves a proposal with apply()'s bytes only, so the
// wrapper prefixes them with the entry's index and term, and unwrap() takes
// them off again. Snapshots pass through unchanged.
import type { StateMachine } from "../raft/storage.js";
import type { Entry } from "../raft/types.js";

export class IndexedStateMachine implements StateMachine {
  constructor(readonly inner: StateMachine) {}

  apply(entry: Entry): Uint8Array {
    const result = this.inner.apply(entry);
    const out = Buffer.allocUnsafe(16 + result.length);
    out.writeUInt32BE(Math.floor(entry.index / 0x1_0000_0000), 0);
    out.writeUInt32BE(entry.index >>> 0, 4);
    out.writeUInt32BE(Math.floor(entry.term / 0x1_0000_0000), 8);
    out.writeUInt32BE(entry.term >>> 0, 12);
    out.set(result, 16);
    return out;
  }

  snapshot(): Uint8Array {
    return this.inner.snapshot();
  }

  restore(data: Uint8Array): void {
    this.inner.restore(data);
  }

  static unwrap(bytes: Uint8Array): { index: number; term: number; result: Uint8Array } {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
      index: buf.readUInt32BE(0) * 0x1_0000_0000 + buf.readUInt32BE(4),
      term: buf.readUInt32BE(8) * 0x1_0000_0000 + buf.readUInt32BE(12),
      result: buf.subarray(16),
    };
  }
}
