// What the driver plugs the core into: a transport and a clock. The state
// machine and the stores are in ../storage.ts.
import type { Message } from "../core/messages.js";
import type { ReplicaId } from "../types.js";

export interface Transport {
  /** Delivers messages best effort: they may be lost, duplicated or reordered. Never throws. */
  send(messages: Message[]): void;
  /**
   * Streams `message.snapshot` to `message.to` in chunks; resolves once the
   * receiver has the whole snapshot and handed it to its node, rejects on failure.
   */
  sendSnapshot(message: Message): Promise<void>;
  /** Where received messages go (assembled snapshots included). The node calls it once, at start. */
  listen(receiver: (message: Message) => void): void;
}

export type TimerHandle = unknown;

/** Time as the node sees it: real in a process, simulated in the simulator. */
export interface Clock {
  now(): number;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (fn, ms) => {
    const t = setInterval(fn, ms);
    // A replica's ticker alone must not keep the process alive.
    t.unref();
    return t;
  },
  clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
};

/** Callbacks for what a host usually logs or exports as metrics. All optional. */
export interface RaftObserver {
  leaderChange?(leader: ReplicaId | null, term: number): void;
  termChange?(term: number): void;
  peerUnreachable?(peer: ReplicaId, reason: string): void;
  /** A message from the network was malformed and dropped. */
  badMessage?(reason: string): void;
  /** The node stopped itself after an error it cannot recover from (a store failure, a safety check). */
  fatal?(error: Error): void;
  /**
   * A write failed for lack of space: the node stopped acknowledging and voting
   * until a probe write succeeds. `successor`: whom a leader asked to take over.
   */
  diskFull?(error: Error, successor: ReplicaId | null): void;
  /** The failed write went through after `fullForMs`: the node runs again. */
  diskSpaceBack?(fullForMs: number): void;
  /** A background snapshot failed for lack of space; retried later. */
  snapshotFailed?(error: Error): void;
}
