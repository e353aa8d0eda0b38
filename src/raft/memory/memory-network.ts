// An in-process network for tests and examples: every replica gets a
// Transport; messages are delivered asynchronously and can be cut per link.
import type { Message } from "../core/messages.js";
import type { Transport } from "../driver/interfaces.js";
import type { ReplicaId } from "../types.js";

export class MemoryNetwork {
  private readonly receivers = new Map<ReplicaId, (m: Message) => void>();
  private readonly cut = new Set<string>();

  transport(id: ReplicaId): Transport {
    return {
      send: (messages) => {
        for (const m of messages) this.deliver(id, m);
      },
      sendSnapshot: (message) =>
        new Promise((resolve, reject) => {
          if (!this.connected(id, message.to)) {
            reject(new Error(`no route from ${id} to ${message.to}`));
            return;
          }
          setImmediate(() => {
            const r = this.receivers.get(message.to);
            if (r === undefined || !this.connected(id, message.to)) {
              reject(new Error(`${message.to} is unreachable`));
              return;
            }
            r(message);
            resolve();
          });
        }),
      listen: (receiver) => {
        this.receivers.set(id, receiver);
      },
    };
  }

  /** Drops messages from `a` to `b` (one direction) until heal(). */
  disconnect(a: ReplicaId, b: ReplicaId): void {
    this.cut.add(`${a}>${b}`);
  }

  /** Cuts `id` off from everyone, both directions. */
  isolate(id: ReplicaId, others: readonly ReplicaId[]): void {
    for (const o of others) {
      this.disconnect(id, o);
      this.disconnect(o, id);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  remove(id: ReplicaId): void {
    this.receivers.delete(id);
  }

  private connected(a: ReplicaId, b: ReplicaId): boolean {
    return !this.cut.has(`${a}>${b}`);
  }

  private deliver(from: ReplicaId, m: Message): void {
    if (!this.connected(from, m.to)) return;
    setImmediate(() => {
      if (!this.connected(from, m.to)) return;
      this.receivers.get(m.to)?.(m);
    });
  }
}
