// The simulated network: per-message loss, duplication, delay and reordering,
// directed link cuts (symmetric and asymmetric partitions), and snapshots
// streamed in chunks, any of which can be lost.
import type { Message } from "../core/messages.js";
import { MessageType } from "../core/messages.js";
import type { SeededRandom } from "../core/random.js";
import type { Transport } from "../driver/interfaces.js";
import type { ReplicaId } from "../types.js";

export interface NetworkFaults {
  /** Probability that a message is lost. */
  loss: number;
  /** Probability that a message is delivered twice. */
  duplicate: number;
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability of an extra long delay (up to longDelayMs): reorders messages. */
  reorder: number;
  longDelayMs: number;
}

export const RELIABLE: NetworkFaults = {
  loss: 0,
  duplicate: 0,
  minDelayMs: 1,
  maxDelayMs: 5,
  reorder: 0,
  longDelayMs: 0,
};

export interface NetworkHost {
  now(): number;
  schedule(at: number, fn: () => void): void;
  /** The live receiver of `id`, or null when it is down. */
  receiver(id: ReplicaId): ((m: Message) => void) | null;
  /** Changes whenever `id` crashes. */
  incarnation(id: ReplicaId): number;
  trace(line: () => string): void;
  /** Called right after a message was handed to its receiver (the simulator may crash it there). */
  delivered?(m: Message): void;
}

export interface NetworkStats {
  messages: number;
  bytes: number;
  appendMessages: number;
  snapshots: number;
  dropped: number;
}

export class SimNetwork {
  faults: NetworkFaults = { ...RELIABLE };
  private readonly blocked = new Set<string>();
  readonly stats: NetworkStats = { messages: 0, bytes: 0, appendMessages: 0, snapshots: 0, dropped: 0 };
  snapshotChunkBytes = 1024;
  /** Probability that a message in flight is lost when its sender crashes. */
  crashLoss = 0.5;

  constructor(
    private readonly host: NetworkHost,
    private readonly rng: SeededRandom,
  ) {}

  block(from: ReplicaId, to: ReplicaId): void {
    this.blocked.add(`${from}>${to}`);
  }

  unblock(from: ReplicaId, to: ReplicaId): void {
    this.blocked.delete(`${from}>${to}`);
  }

  /** Splits the replicas into groups that cannot talk to each other. */
  partition(groups: ReplicaId[][]): void {
    this.blocked.clear();
    for (const g of groups)
      for (const h of groups) {
        if (g === h) continue;
        for (const a of g) for (const b of h) this.block(a, b);
      }
  }

  heal(): void {
    this.blocked.clear();
  }

  isBlocked(from: ReplicaId, to: ReplicaId): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  describePartitions(): string {
    return [...this.blocked].sort().join(",");
  }

  private delay(): number {
    const f = this.faults;
    let d = f.minDelayMs + this.rng.next() * (f.maxDelayMs - f.minDelayMs);
    if (this.rng.chance(f.reorder)) d += this.rng.next() * f.longDelayMs;
    return d;
  }

  transport(id: ReplicaId, onListen: (receiver: (m: Message) => void) => void): Transport {
    return {
      send: (messages) => {
        for (const m of messages) this.sendOne(id, m);
      },
      sendSnapshot: (m) => this.sendSnapshot(id, m),
      listen: onListen,
    };
  }

  private sendOne(from: ReplicaId, m: Message): void {
    this.stats.messages++;
    let bytes = 48;
    for (const e of m.entries) bytes += e.data.length + 24;
    this.stats.bytes += bytes;
    if (m.type === MessageType.Append) this.stats.appendMessages++;
    if (this.isBlocked(from, m.to) || this.rng.chance(this.faults.loss)) {
      this.stats.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    const sentBy = this.host.incarnation(from);
    for (let c = 0; c < copies; c++) {
      this.host.schedule(this.host.now() + this.delay(), () => {
        const r = this.host.receiver(m.to);
        if (r === null) return;
        // A crashed sender's messages still on the wire may die with it.
        if (this.host.incarnation(from) !== sentBy && this.rng.chance(this.crashLoss)) return;
        this.host.trace(
          () =>
            `deliver ${MessageType[m.type]} ${m.from}->${m.to} t${m.term} i${m.index} n${m.entries.length} c${m.commit}${m.reject ? " reject" : ""}`,
        );
        r(m);
        this.host.delivered?.(m);
      });
    }
  }

  private sendSnapshot(from: ReplicaId, m: Message): Promise<void> {
    this.stats.snapshots++;
    const size = m.snapshot?.data.length ?? 0;
    const chunks = Math.max(1, Math.ceil(size / this.snapshotChunkBytes));
    let at = this.host.now();
    let lost = false;
    for (let i = 0; i < chunks; i++) {
      this.stats.messages++;
      this.stats.bytes += Math.min(this.snapshotChunkBytes, size) + 48;
      if (this.isBlocked(from, m.to) || this.rng.chance(this.faults.loss)) lost = true;
      at += this.delay();
    }
    return new Promise((resolve, reject) => {
      this.host.schedule(at, () => {
        const r = this.host.receiver(m.to);
        if (lost || r === null) {
          this.host.trace(() => `snapshot ${m.from}->${m.to} at ${m.snapshot?.meta.index} lost`);
          reject(new Error(`snapshot to ${m.to} lost`));
          return;
        }
        this.host.trace(
          () => `snapshot ${m.from}->${m.to} at ${m.snapshot?.meta.index} delivered (${chunks} chunks)`,
        );
        r(m);
        resolve();
      });
    });
  }
}
