// Membership changes: how they are encoded in Config entries and how they
// transform a Membership. A single change that alters at most one voter is
// applied directly; anything larger goes through joint consensus (the
// Membership carries `outgoing` until a second entry leaves the joint state).
import type { Membership, ReplicaId } from "../types.js";

export type MembershipChange =
  { op: "addVoter"; id: ReplicaId } | { op: "addLearner"; id: ReplicaId } | { op: "remove"; id: ReplicaId };

/** The payload of a Config entry. */
export type ConfigEntryPayload =
  /** The initial membership, written at index 1 by every founding replica. */
  | { kind: "bootstrap"; membership: Membership }
  | { kind: "change"; changes: MembershipChange[] }
  | { kind: "leaveJoint" }
  /** Registers (or, with "-" + the old identity, revokes) members' storage identities. */
  | { kind: "storage"; ids: Record<ReplicaId, string> };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfigEntry(p: ConfigEntryPayload): Uint8Array {
  return encoder.encode(JSON.stringify(p));
}

export function decodeConfigEntry(data: Uint8Array): ConfigEntryPayload {
  const p = JSON.parse(decoder.decode(data)) as ConfigEntryPayload;
  if (
    p === null ||
    typeof p !== "object" ||
    !["bootstrap", "change", "leaveJoint", "storage"].includes(p.kind) ||
    (p.kind === "storage" && (p.ids === null || typeof p.ids !== "object"))
  )
    throw new Error("malformed configuration entry");
  return p;
}

export function cloneMembership(m: Membership): Membership {
  const out: Membership = { voters: [...m.voters], learners: [...m.learners] };
  if (m.outgoing !== undefined && m.outgoing.length > 0) out.outgoing = [...m.outgoing];
  if (m.storage !== undefined && Object.keys(m.storage).length > 0) out.storage = { ...m.storage };
  return out;
}

/** A revoked registration: the member's disk was lost; it counts for nothing. */
export const REVOKED_PREFIX = "-";

/**
 * Whether a member's vote or acknowledgement, sent from the disk `seen`,
 * counts: only from the disk registered for it (or any while none is).
 */
export function storageCounts(m: Membership, id: ReplicaId, seen: string | undefined): boolean {
  const registered = m.storage?.[id];
  if (registered === undefined) return true;
  return !registered.startsWith(REVOKED_PREFIX) && registered === seen;
}

export function isJoint(m: Membership): boolean {
  return m.outgoing !== undefined && m.outgoing.length > 0;
}

/** Everyone the leader replicates to. */
export function allMembers(m: Membership): ReplicaId[] {
  const s = new Set<ReplicaId>([...m.voters, ...(m.outgoing ?? []), ...m.learners]);
  return [...s].sort();
}

export function isVoter(m: Membership, id: ReplicaId): boolean {
  return m.voters.includes(id) || (m.outgoing ?? []).includes(id);
}

/** Checks a proposed change against the current membership; a reason when it is refused. */
export function validateChanges(current: Membership, changes: MembershipChange[]): string | null {
  if (changes.length === 0) return "no changes";
  if (isJoint(current)) return "the membership is in joint consensus; wait for it to settle";
  const seen = new Set<ReplicaId>();
  for (const c of changes) {
    if (c === null || typeof c !== "object" || !["addVoter", "addLearner", "remove"].includes(c.op))
      return `unknown membership change ${JSON.stringify(c)}`;
    if (typeof c.id !== "string" || c.id.length === 0) return "a membership change needs a replica id";
    if (seen.has(c.id)) return `replica ${c.id} appears twice in one change`;
    seen.add(c.id);
    if (c.op === "remove" && !current.voters.includes(c.id) && !current.learners.includes(c.id))
      return `replica ${c.id} is not a member`;
    if (c.op === "addVoter" && current.voters.includes(c.id)) return `replica ${c.id} is already a voter`;
    if (c.op === "addVoter" && !current.learners.includes(c.id))
      return `replica ${c.id} is not a learner: add it as a learner first, and promote it once it has caught up`;
    if (c.op === "addLearner" && current.learners.includes(c.id))
      return `replica ${c.id} is already a learner`;
  }
  const next = applyChanges(current, changes, false);
  if (next.voters.length === 0) return "the change would leave no voters";
  return null;
}

/** How many voters a change adds or removes, to choose simple or joint. */
function voterDelta(current: Membership, next: Membership): number {
  const a = new Set(current.voters);
  const b = new Set(next.voters);
  let d = 0;
  for (const id of a) if (!b.has(id)) d++;
  for (const id of b) if (!a.has(id)) d++;
  return d;
}

/**
 * The membership after `changes`. With `allowJoint`, a change that alters more
 * than one voter enters joint consensus: old voters stay as `outgoing`.
 */
export function applyChanges(
  current: Membership,
  changes: MembershipChange[],
  allowJoint = true,
): Membership {
  const voters = new Set(current.voters);
  const learners = new Set(current.learners);
  for (const c of changes) {
    if (c.op === "addVoter") {
      voters.add(c.id);
      learners.delete(c.id);
    } else if (c.op === "addLearner") {
      voters.delete(c.id);
      learners.add(c.id);
    } else {
      voters.delete(c.id);
      learners.delete(c.id);
    }
  }
  const next: Membership = { voters: [...voters].sort(), learners: [...learners].sort() };
  if (allowJoint && voterDelta(current, next) > 1) next.outgoing = [...current.voters].sort();
  keepStorage(current, next);
  return next;
}

/** Carries the registered disks over, for members only (a removed member re-added registers anew). */
function keepStorage(current: Membership, next: Membership): void {
  if (current.storage === undefined) return;
  const members = new Set(allMembers(next));
  const kept: Record<ReplicaId, string> = {};
  for (const [id, s] of Object.entries(current.storage)) if (members.has(id)) kept[id] = s;
  if (Object.keys(kept).length > 0) next.storage = kept;
}

export function leaveJoint(current: Membership): Membership {
  const next: Membership = { voters: [...current.voters], learners: [...current.learners] };
  keepStorage(current, next);
  return next;
}

/** Applies a decoded Config entry. */
export function applyConfigEntry(current: Membership, p: ConfigEntryPayload): Membership {
  switch (p.kind) {
    case "bootstrap":
      return cloneMembership(p.membership);
    case "change":
      return applyChanges(current, p.changes);
    case "leaveJoint":
      return leaveJoint(current);
    case "storage": {
      const next = cloneMembership(current);
      const members = new Set(allMembers(current));
      const storage = { ...current.storage };
      for (const [id, s] of Object.entries(p.ids))
        if (members.has(id) && typeof s === "string" && s !== "") storage[id] = s;
      if (Object.keys(storage).length > 0) next.storage = storage;
      return next;
    }
  }
}
