// Linearizable reads without log writes (ReadIndex, Raft thesis §6.4): the
// leader notes its commit index, confirms with a heartbeat round that it is
// still the leader, and then releases the read at that index.
import type { ReplicaId } from "../types.js";

export interface ReadState {
  /** The read may be served once this index is applied. */
  index: number;
  /** The caller's request id. */
  context: Uint8Array;
}

interface PendingRead {
  index: number;
  from: ReplicaId;
  context: Uint8Array;
  acks: Set<ReplicaId>;
}

export function contextKey(ctx: Uint8Array): string {
  let s = "";
  for (let i = 0; i < ctx.length; i++) s += String.fromCharCode(ctx[i] as number);
  return s;
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private readonly order: string[] = [];

  add(index: number, from: ReplicaId, context: Uint8Array, self: ReplicaId): void {
    const key = contextKey(context);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, from, context, acks: new Set([self]) });
    this.order.push(key);
  }

  /** Records a heartbeat acknowledgement; the acknowledgers of that read, or null if unknown. */
  ack(from: ReplicaId, context: Uint8Array): ReadonlySet<ReplicaId> | null {
    const r = this.pending.get(contextKey(context));
    if (r === undefined) return null;
    r.acks.add(from);
    return r.acks;
  }

  /** Releases every read up to and including the one with `context` (an ack covers earlier reads). */
  release(context: Uint8Array): { index: number; from: ReplicaId; context: Uint8Array }[] {
    const key = contextKey(context);
    const at = this.order.indexOf(key);
    if (at < 0) return [];
    const keys = this.order.splice(0, at + 1);
    const out = [];
    const last = this.pending.get(key) as PendingRead;
    for (const k of keys) {
      const r = this.pending.get(k) as PendingRead;
      this.pending.delete(k);
      // An earlier read is served at the later confirmation's index, which is at least its own.
      out.push({
        index: Math.max(r.index, 0) <= last.index ? r.index : last.index,
        from: r.from,
        context: r.context,
      });
    }
    return out;
  }

  /** The context of the newest pending read, to piggy-back on heartbeats. */
  lastContext(): Uint8Array | null {
    const key = this.order[this.order.length - 1];
    return key === undefined ? null : (this.pending.get(key) as PendingRead).context;
  }

  get size(): number {
    return this.order.length;
  }

  clear(): void {
    this.pending.clear();
    this.order.length = 0;
  }
}
