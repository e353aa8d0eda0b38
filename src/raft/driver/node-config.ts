// The settings of a running node: the core's (in ticks) plus timing and
// snapshot policy (in milliseconds and entries), with defaults and validation.
import type { CoreConfig } from "../core/config.js";
import { CORE_DEFAULTS, stripUndefined } from "../core/config.js";
import { RaftConfigError } from "../core/errors.js";

export interface RaftNodeConfig {
  /** A leader's heartbeat interval; also the tick of the core. */
  heartbeatIntervalMs: number;
  /** Followers campaign after a random time in [electionTimeoutMs, 2*electionTimeoutMs). */
  electionTimeoutMs: number;
  maxBytesPerMessage: number;
  maxEntriesPerMessage: number;
  maxInflightMessages: number;
  maxInflightBytes: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Take a snapshot after this many entries applied since the last one (0: never). */
  snapshotThreshold: number;
  /** Entries kept in the log behind a snapshot, so that slow followers need no snapshot. */
  trailingEntries: number;
  /** Proposals accepted but not yet applied; beyond it propose() rejects (back-pressure). */
  maxPendingProposals: number;
  /** A read or leadership transfer that has not finished after this many election timeouts fails. */
  requestTimeoutElections: number;
  /** Test-only fault injection (see CoreConfig.unsafe). */
  unsafe?: CoreConfig["unsafe"];
}

/**
 * The one table of Raft defaults: the core's (CORE_DEFAULTS) plus timing and
 * snapshot policy. The cluster config file's `raft` section takes its defaults
 * from here (src/config/raft-settings.ts); a test checks that they agree.
 */
export const NODE_DEFAULTS: Readonly<RaftNodeConfig> = {
  heartbeatIntervalMs: 100,
  electionTimeoutMs: 1000,
  maxBytesPerMessage: CORE_DEFAULTS.maxBytesPerMessage,
  maxEntriesPerMessage: CORE_DEFAULTS.maxEntriesPerMessage,
  maxInflightMessages: CORE_DEFAULTS.maxInflightMessages,
  maxInflightBytes: CORE_DEFAULTS.maxInflightBytes,
  preVote: true,
  checkQuorum: true,
  snapshotThreshold: 10_000,
  trailingEntries: 5_000,
  maxPendingProposals: 100_000,
  requestTimeoutElections: 3,
};

function nonNegativeInt(name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
    throw new RaftConfigError(`${name} must be a non-negative integer, got ${String(v)}`);
}

export function resolveNodeConfig(partial: Partial<RaftNodeConfig> = {}): RaftNodeConfig {
  const c: RaftNodeConfig = { ...NODE_DEFAULTS, ...stripUndefined(partial) };
  for (const k of [
    "heartbeatIntervalMs",
    "electionTimeoutMs",
    "maxPendingProposals",
    "requestTimeoutElections",
  ] as const) {
    nonNegativeInt(k, c[k]);
    if (c[k] === 0) throw new RaftConfigError(`${k} must be positive`);
  }
  nonNegativeInt("snapshotThreshold", c.snapshotThreshold);
  nonNegativeInt("trailingEntries", c.trailingEntries);
  if (c.electionTimeoutMs < 2 * c.heartbeatIntervalMs)
    throw new RaftConfigError(
      `electionTimeoutMs (${c.electionTimeoutMs}) must be at least twice heartbeatIntervalMs (${c.heartbeatIntervalMs}); ten times is usual`,
    );
  return c;
}

/** The core's view: times in ticks of heartbeatIntervalMs. */
export function coreConfigOf(id: string, c: RaftNodeConfig): Partial<CoreConfig> & { id: string } {
  return {
    id,
    heartbeatTick: 1,
    electionTick: Math.round(c.electionTimeoutMs / c.heartbeatIntervalMs),
    maxBytesPerMessage: c.maxBytesPerMessage,
    maxEntriesPerMessage: c.maxEntriesPerMessage,
    maxInflightMessages: c.maxInflightMessages,
    maxInflightBytes: c.maxInflightBytes,
    preVote: c.preVote,
    checkQuorum: c.checkQuorum,
    unsafe: c.unsafe,
  };
}
