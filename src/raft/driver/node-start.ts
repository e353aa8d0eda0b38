// What a node does before it runs: load the stores, write the founding entry
// on an empty founding replica, restore the state machine from the newest
// snapshot, bring the log store in line with it, and build the core.
import { randomUUID } from "node:crypto";
import { ProposalDroppedError } from "../core/errors.js";
import { cloneMembership, encodeConfigEntry } from "../core/membership.js";
import { RaftCore } from "../core/raft.js";
import type { RandomSource } from "../core/random.js";
import { SeededRandom } from "../core/random.js";
import type { LogStore, Snapshot, SnapshotStore, StateMachine } from "../storage.js";
import { StorageCorruptionError } from "../storage.js";
import type { Entry, HardState, Membership, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import type { Clock } from "./interfaces.js";
import type { RaftNodeConfig } from "./node-config.js";
import { coreConfigOf } from "./node-config.js";

export interface NodeStores {
  id: ReplicaId;
  logStore: LogStore;
  snapshotStore: SnapshotStore;
  stateMachine: StateMachine;
  clock: Clock;
  random?: RandomSource;
  bootstrap?: Membership;
}

export interface LoadedNode {
  core: RaftCore;
  /** The index of the snapshot the state machine was restored from (0: none). */
  snapshotIndex: number;
}

/** Loads what `s` holds into a new core; restores the state machine from the newest snapshot. */
export async function loadNode(s: NodeStores, config: RaftNodeConfig): Promise<LoadedNode> {
  let persisted = await s.logStore.load();
  const snapshot = await s.snapshotStore.latest();
  const empty = persisted.hardState === null && persisted.entries.length === 0 && snapshot === null;
  if (empty && s.bootstrap !== undefined) {
    const first = foundingEntry(s.bootstrap);
    const hs: HardState = { term: 1, vote: null, commit: 1 };
    await s.logStore.persist({ hardState: hs, entries: [first] });
    persisted = { hardState: hs, entries: [first], compactedIndex: 0, compactedTerm: 0 };
  }
  checkSnapshotCoversCompaction(s.snapshotStore, snapshot, persisted.compactedIndex);
  if (snapshot !== null) s.stateMachine.restore(snapshot.data);
  const random =
    s.random ?? new SeededRandom((s.clock.now() ^ hashId(s.id) ^ (Math.random() * 0xffffffff)) >>> 0);
  const storageId = await loadStorageIdentity(s.logStore, s.random);
  const core = new RaftCore({
    config: { ...coreConfigOf(s.id, config), storageId },
    random,
    hardState: persisted.hardState,
    entries: persisted.entries,
    compactedIndex: persisted.compactedIndex,
    compactedTerm: persisted.compactedTerm,
    snapshot,
  });
  if (snapshot !== null && snapshot.meta.index > persisted.compactedIndex) {
    // A crash after saving a snapshot but before the log store caught up:
    // bring the store in line with what the core kept, before any new write.
    const { index, term } = snapshot.meta;
    const continues = persisted.entries.some((e) => e.index === index && e.term === term);
    const store = s.logStore;
    if (!continues && store.resetTo !== undefined) await store.resetTo(index, term);
    else await store.compact(index, term);
  }
  return { core, snapshotIndex: snapshot?.meta.index ?? 0 };
}

/** The first entry of a new cluster: every founding replica writes the same one. */
function foundingEntry(m: Membership): Entry {
  if (!Array.isArray(m.voters) || m.voters.length === 0)
    throw new ProposalDroppedError("bootstrap membership needs at least one voter");
  return {
    term: 1,
    index: 1,
    type: EntryType.Config,
    data: encodeConfigEntry({ kind: "bootstrap", membership: cloneMembership(m) }),
  };
}

/**
 * This disk's identity: read from the log store, or made and written (synced)
 * when the store has none, i.e. when it is new or was rebuilt. "" for a store
 * that keeps none. Random from `random` when given (the simulator's runs are
 * reproducible), else from the system's generator.
 */
async function loadStorageIdentity(store: LogStore, random: RandomSource | undefined): Promise<string> {
  if (store.readIdentity === undefined || store.writeIdentity === undefined) return "";
  const known = await store.readIdentity();
  if (known !== null && known !== "") return known;
  let id: string;
  if (random !== undefined) {
    id = "";
    for (let i = 0; i < 4; i++) id += random.nextInt(0x10000).toString(16).padStart(4, "0");
  } else id = randomUUID();
  await store.writeIdentity(id);
  return id;
}

/**
 * The log was compacted to `compactedIndex`; the state up to there must come
 * from a snapshot. If no snapshot that verifies reaches it (the newer ones are
 * torn or gone), the replica cannot rebuild its state: corrupt storage.
 */
function checkSnapshotCoversCompaction(
  store: SnapshotStore,
  snapshot: Snapshot | null,
  compactedIndex: number,
): void {
  const covered = snapshot?.meta.index ?? 0;
  if (compactedIndex <= covered) return;
  const where = (store as { directory?: string }).directory ?? "the snapshot store";
  throw new StorageCorruptionError(
    where,
    null,
    `the log is compacted to index ${compactedIndex} but the newest snapshot that verifies ` +
      (snapshot === null ? "does not exist" : `covers only index ${covered}`) +
      "; refusing to start (see docs/operations.md: move the data directory aside and start with --join)",
  );
}

function hashId(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
