// The core's settings, their defaults and their validation. Times are in
// ticks: the driver turns its tick interval (milliseconds) into them.
import type { ReplicaId } from "../types.js";
import { RaftConfigError } from "./errors.js";

export interface CoreConfig {
  id: ReplicaId;
  /** Ticks without a leader before a follower campaigns; randomised in [electionTick, 2*electionTick). */
  electionTick: number;
  /** Ticks between a leader's heartbeats; must be well below electionTick. */
  heartbeatTick: number;
  /** Byte budget of one Append message (one entry is always allowed). */
  maxBytesPerMessage: number;
  /** Entry budget of one Append message. */
  maxEntriesPerMessage: number;
  /** Append messages in flight to one follower. */
  maxInflightMessages: number;
  /** Bytes in flight to one follower (0: no limit). */
  maxInflightBytes: number;
  /** Ask for votes without raising the term first, so a rejoining replica does not disrupt. */
  preVote: boolean;
  /** A leader that hears from no majority within an election timeout steps down. */
  checkQuorum: boolean;
  /**
   * This replica's storage identity: made once when its disk is new, kept by
   * the log store. "" for a store without one (then disk loss is not detected).
   */
  storageId: string;
  /** Test-only fault injection; never set it in production. */
  unsafe?: UnsafeOptions;
}

/** Deliberate bugs, used to show that the simulator catches them. */
export interface UnsafeOptions {
  /** Commit an entry of an earlier term by counting replicas (Raft's Figure 8 bug). */
  commitPreviousTermByCounting?: boolean;
  /**
   * Do not append the no-op entry at the start of a term. Safe on its own
   * (earlier entries then wait for the next proposal), but it unmasks the bug
   * above, which the no-op otherwise hides by following the old entries closely.
   */
  skipNoop?: boolean;
  /** Send votes and acknowledgements before the state they promise is persisted. */
  acknowledgeBeforePersist?: boolean;
  /** Count votes and acknowledgements from any disk: a replica that lost its disk votes at once. */
  ignoreStorageIdentity?: boolean;
}

/**
 * The one table of the core's defaults. The driver's (node-config.ts) builds on
 * it, and the cluster config file's defaults come from the driver's.
 */
export const CORE_DEFAULTS: Omit<CoreConfig, "id"> = {
  electionTick: 10,
  heartbeatTick: 1,
  maxBytesPerMessage: 1 << 20,
  maxEntriesPerMessage: 512,
  maxInflightMessages: 64,
  maxInflightBytes: 64 << 20,
  preVote: true,
  checkQuorum: true,
  storageId: "",
};

function positiveInt(name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0)
    throw new RaftConfigError(`${name} must be a positive integer, got ${String(v)}`);
}

/** Fills defaults and checks every field; throws RaftConfigError naming the field. */
export function resolveCoreConfig(partial: Partial<CoreConfig> & { id: ReplicaId }): CoreConfig {
  const c: CoreConfig = { ...CORE_DEFAULTS, ...stripUndefined(partial), id: partial.id };
  if (typeof c.id !== "string" || c.id.length === 0)
    throw new RaftConfigError("id must be a non-empty string");
  if (typeof c.storageId !== "string" || c.storageId.length > 64 || c.storageId.startsWith("-"))
    throw new RaftConfigError(`storageId must be a string of at most 64 characters, not starting with "-"`);
  positiveInt("electionTick", c.electionTick);
  positiveInt("heartbeatTick", c.heartbeatTick);
  positiveInt("maxBytesPerMessage", c.maxBytesPerMessage);
  positiveInt("maxEntriesPerMessage", c.maxEntriesPerMessage);
  positiveInt("maxInflightMessages", c.maxInflightMessages);
  if (!Number.isSafeInteger(c.maxInflightBytes) || c.maxInflightBytes < 0)
    throw new RaftConfigError(`maxInflightBytes must be 0 (no limit) or positive, got ${c.maxInflightBytes}`);
  if (c.maxInflightBytes > 0 && c.maxInflightBytes < c.maxBytesPerMessage)
    throw new RaftConfigError(
      `maxInflightBytes (${c.maxInflightBytes}) must be at least maxBytesPerMessage (${c.maxBytesPerMessage})`,
    );
  if (c.electionTick <= c.heartbeatTick)
    throw new RaftConfigError(
      `electionTick (${c.electionTick}) must be greater than heartbeatTick (${c.heartbeatTick}); ten times is usual`,
    );
  return c;
}

/** Lets callers pass `{ x: undefined }` without erasing the default. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
