// The messages the core exchanges with its peers. They mirror RaftMessage in
// proto/halon/v1/raft.proto field for field, so a transport maps them one to
// one; a snapshot travels beside the message (the transport streams it).
import type { Snapshot } from "../storage.js";
import type { Entry, ReplicaId } from "../types.js";

/** Same numbers as RaftMessageType in the proto. */
export enum MessageType {
  Append = 1,
  AppendResponse = 2,
  Vote = 3,
  VoteResponse = 4,
  PreVote = 5,
  PreVoteResponse = 6,
  Heartbeat = 7,
  HeartbeatResponse = 8,
  Snapshot = 9,
  SnapshotResponse = 10,
  TimeoutNow = 11,
  ReadIndex = 12,
  ReadIndexResponse = 13,
}

export interface Message {
  type: MessageType;
  from: ReplicaId;
  to: ReplicaId;
  term: number;
  /** Append: term of the entry at `index`. Vote: term of the candidate's last entry. */
  logTerm: number;
  /** Append: index just before `entries`. AppendResponse: the follower's match. Vote: last index. */
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** AppendResponse with reject: the index the leader should probe next. */
  rejectHint: number;
  /** AppendResponse with reject: the follower's term at rejectHint (fast backtracking). */
  hintTerm: number;
  /** Opaque: the request id of ReadIndex and heartbeats, or the transfer marker on votes. */
  context: Uint8Array;
  /** Only on Snapshot messages: the snapshot to install. */
  snapshot?: Snapshot;
  /** The sender's storage identity (its disk), "" when its store has none. */
  storage: string;
}

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/**
 * Terms grow by one per election, but a faulty member can send any term. One
 * above this ceiling is accepted only within MAX_TERM_JUMP of our own (so the
 * cluster can still hold 2^32 elections past it, each term + 1 representable);
 * a bigger jump is dropped and reported, and the cluster goes on electing.
 */
export const TERM_CEILING = Number.MAX_SAFE_INTEGER - 2 ** 32;
export const MAX_TERM_JUMP = 2 ** 20;
export const MAX_STORAGE_ID_LENGTH = 64;
const NO_ENTRIES: Entry[] = [];

/** A message with every field at its zero value, as protobuf would decode it. */
export function makeMessage(
  type: MessageType,
  from: ReplicaId,
  to: ReplicaId,
  fields?: Partial<Message>,
): Message {
  const m: Message = {
    type,
    from,
    to,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: NO_ENTRIES,
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
    context: EMPTY_BYTES,
    storage: "",
  };
  return fields === undefined ? m : Object.assign(m, fields);
}

/** Why a message from the network cannot be stepped; never thrown for protocol reasons. */
export function validateMessage(m: Message): string | null {
  if (typeof m !== "object" || m === null) return "message is not an object";
  if (!(m.type in MessageType) || typeof m.type !== "number") return `unknown message type ${String(m.type)}`;
  if (typeof m.from !== "string" || m.from.length === 0) return "message has no sender";
  if (typeof m.storage !== "string" || m.storage.length > MAX_STORAGE_ID_LENGTH)
    return "message has a malformed storage identity";
  for (const k of ["term", "logTerm", "index", "commit", "rejectHint", "hintTerm"] as const) {
    const v = m[k];
    if (!Number.isSafeInteger(v) || v < 0) return `field ${k} is not a non-negative integer: ${String(v)}`;
  }
  if (!Array.isArray(m.entries)) return "entries is not an array";
  let expect = m.index + 1;
  for (const e of m.entries) {
    if (e === null || typeof e !== "object") return "entry is not an object";
    if (e.index !== expect)
      return `entries are not contiguous: expected index ${expect}, got ${String(e.index)}`;
    if (!Number.isSafeInteger(e.term) || e.term < 0) return `entry ${expect} has a bad term`;
    if (e.term > m.term) return `entry ${expect} has term ${e.term}, beyond the message's ${m.term}`;
    if (!(e.data instanceof Uint8Array)) return `entry ${expect} has no data bytes`;
    expect++;
  }
  if (m.type === MessageType.Snapshot) {
    const s = m.snapshot;
    if (s === undefined || !(s.data instanceof Uint8Array) || s.meta === undefined)
      return "snapshot message without a snapshot";
    if (
      !Number.isSafeInteger(s.meta.index) ||
      !Number.isSafeInteger(s.meta.term) ||
      s.meta.index < 0 ||
      s.meta.term < 0 ||
      s.meta.term > m.term
    )
      return "snapshot meta has bad index or term";
    const mem = s.meta.membership;
    if (mem === undefined || !Array.isArray(mem.voters) || !Array.isArray(mem.learners))
      return "snapshot meta has no membership";
  }
  return null;
}

/** Approximate wire size, for the byte budget of messages and in-flight data. */
export function entryBytes(e: Entry): number {
  return e.data.length + 24;
}

/** The context of a vote request that follows TimeoutNow, so that leases do not block it. */
export const CAMPAIGN_TRANSFER: Uint8Array = new TextEncoder().encode("transfer");
