// Converts between the core's messages (src/raft/core/messages.ts) and the
// wire's (halon.v1.RaftMessage). The two mirror each other field for field;
// only the snapshot differs: the core carries it inside a Snapshot message,
// the wire streams it separately (grpc-transport.ts, InstallSnapshot).
//
// Numbers: terms and indexes are uint64 on the wire and JavaScript numbers in
// the core. The generated decoder refuses a value above 2^53 - 1 (it throws,
// and the frame is dropped and reported); validateMessage() then refuses what
// the core cannot use, and the core ignores a term jump past TERM_CEILING
// (core/messages.ts), so that the next term is always representable.
import type { EntryType as WireEntryType } from "../../gen/halon/v1/raft.js";
import {
  type Entry as WireEntry,
  type RaftMessage,
  type SnapshotMeta as WireSnapshotMeta,
} from "../../gen/halon/v1/raft.js";
import type { Message, MessageType } from "../core/messages.js";
import type { Snapshot } from "../storage.js";
import type { EntryType } from "../types.js";
import { type Entry, type Membership } from "../types.js";

const EMPTY = new Uint8Array(0);

export function toWire(m: Message): RaftMessage {
  return {
    type: m.type as number,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map(entryToWire),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    hintTerm: m.hintTerm,
    context: asBuffer(m.context),
    storageId: m.storage,
  };
}

export function fromWire(w: RaftMessage, snapshot?: Snapshot): Message {
  const m: Message = {
    type: w.type as number as MessageType,
    from: w.from,
    to: w.to,
    term: w.term,
    logTerm: w.logTerm,
    index: w.index,
    entries: w.entries.map(entryFromWire),
    commit: w.commit,
    reject: w.reject,
    rejectHint: w.rejectHint,
    hintTerm: w.hintTerm,
    context: w.context.length === 0 ? EMPTY : w.context,
    storage: w.storageId,
  };
  if (snapshot) m.snapshot = snapshot;
  return m;
}

/** The snapshot meta that travels in the first InstallSnapshot chunk (size and checksum are added there). */
export function snapshotMetaToWire(snapshot: Snapshot): Omit<WireSnapshotMeta, "size" | "checksum"> {
  return {
    index: snapshot.meta.index,
    term: snapshot.meta.term,
    configuration: Buffer.from(JSON.stringify(snapshot.meta.membership), "utf8"),
  };
}

/** Throws when the configuration is not a membership; the transport answers INVALID_ARGUMENT. */
export function snapshotFromWire(meta: WireSnapshotMeta, data: Uint8Array): Snapshot {
  const membership = JSON.parse(Buffer.from(meta.configuration).toString("utf8")) as Membership;
  if (!membership || !Array.isArray(membership.voters) || !Array.isArray(membership.learners)) {
    throw new Error("snapshot configuration is not a membership");
  }
  return { meta: { index: meta.index, term: meta.term, membership }, data };
}

function entryToWire(e: Entry): WireEntry {
  return { term: e.term, index: e.index, type: e.type as number as WireEntryType, data: asBuffer(e.data) };
}

function entryFromWire(e: WireEntry): Entry {
  if (e.type < 0 || e.type > 2) throw new Error(`entry ${e.index} has an unknown type ${e.type}`);
  return { term: e.term, index: e.index, type: e.type as number as EntryType, data: e.data };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
