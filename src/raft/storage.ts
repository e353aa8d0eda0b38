// What the Raft driver needs from durable storage. The in-memory versions serve
// the simulator; src/raft/storage/ has the LevelDB and file versions.
//
// Contract shared by every implementation:
// - A promise that resolves means the data is durable (synced), unless the
//   method says otherwise. The driver acknowledges nothing before that.
// - Entries are contiguous: append(entries) replaces any entries at or after
//   entries[0].index (a follower's conflicting suffix) in the same write.
// - Checksums and corruption detection are the store's business: load() throws
//   a StorageCorruptionError naming the file and index rather than return bad data.
import type { Entry, HardState, SnapshotMeta } from "./types.js";

export interface PersistedLog {
  hardState: HardState | null;
  /** Entries after the latest snapshot (or from index 1), in index order. */
  entries: Entry[];
  /** The index and term just before entries[0] (the compaction point), 0/0 if none. */
  compactedIndex: number;
  compactedTerm: number;
}

export interface LogStore {
  /** Reads everything at start. */
  load(): Promise<PersistedLog>;
  /**
   * Writes a hard state and/or entries in one synced write (group commit: the
   * driver gathers every proposal since the last write into one call).
   */
  persist(update: { hardState?: HardState; entries?: Entry[] }): Promise<void>;
  /** Drops entries up to and including `index`; need not be synced. */
  compact(index: number, term: number): Promise<void>;
  /**
   * Optional (added by the core's author): drops EVERY entry and makes
   * (index, term) the compaction point, durable on resolve. The driver calls it
   * after installing a snapshot received from the leader, so that no stale
   * entries of an older history survive after the snapshot. Stores without it
   * get compact() instead, which leaves entries after `index` in place.
   */
  resetTo?(index: number, term: number): Promise<void>;
  /**
   * Optional: after a write failed for lack of space, makes the store writable
   * again (LevelDB keeps a failed write as a permanent error until reopened).
   * Throws while that is not possible yet. The driver then repeats the write.
   */
  reopen?(): Promise<void>;
  close(): Promise<void>;
  /**
   * Optional: the storage identity kept with the log (null while none was
   * written). The driver makes one when there is none and writes it (durable on
   * resolve) before anything else: a replica whose data directory was lost or
   * rebuilt comes back with a new identity, which the cluster recognises.
   * Without these methods disk loss goes undetected.
   */
  readIdentity?(): Promise<string | null>;
  writeIdentity?(id: string): Promise<void>;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

export interface SnapshotStore {
  /** Durable on resolve; an older snapshot may then be deleted. */
  save(snapshot: Snapshot): Promise<void>;
  /** The newest complete snapshot, or null. Torn or corrupt ones are reported, never returned. */
  latest(): Promise<Snapshot | null>;
  close(): Promise<void>;
}

/** The replicated state machine, applied in log order on every replica. */
export interface StateMachine {
  /** Applies a committed Normal entry; the result goes back to the proposer. */
  apply(entry: Entry): Uint8Array;
  /** The whole state as bytes, as of the last applied entry. */
  snapshot(): Uint8Array;
  /**
   * Optional: the quick half of a snapshot (hashicorp/raft's Snapshot()):
   * captures the state as of the last applied entry without encoding it, so
   * that the driver is not held up; persist() (Persist()) then encodes it in
   * the background, while entries go on being applied, and resolves with the
   * bytes snapshot() would have returned at the capture. Without it the
   * driver calls snapshot().
   */
  capture?(): StateCapture;
  /** Replaces the whole state. */
  restore(data: Uint8Array): void;
}

export interface StateCapture {
  persist(): Promise<Uint8Array>;
}

export class StorageCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly index: number | null,
    detail: string,
  ) {
    super(`${file}${index === null ? "" : ` at index ${index}`}: ${detail}`);
    this.name = "StorageCorruptionError";
  }
}

/**
 * A write failed because the disk (or the quota) is full: a state the replica
 * waits out, not a crash. Node reports `code`; LevelDB only a message.
 */
export function isNoSpaceError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") return true;
    if (/No space left on device|Disk quota exceeded/i.test(e.message)) return true;
  }
  return false;
}
