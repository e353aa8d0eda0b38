// The heart of the driver: takes each Ready from the core and carries it out
// in the order that keeps Raft safe. Persist before acknowledging; send what
// needs no write at once; gather every proposal made during a write into the
// next write (group commit); apply committed entries; then tell the core.
import { EMPTY_BYTES, MessageType } from "../core/messages.js";
import type { Message } from "../core/messages.js";
import type { RaftCore } from "../core/raft.js";
import type { Ready } from "../core/ready.js";
import { Role } from "../core/ready.js";
import type { LogStore, SnapshotStore, StateMachine } from "../storage.js";
import type { Entry, HardState, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import type { DiskGuard } from "./disk-guard.js";
import type { Transport } from "./interfaces.js";
import type { ObserverList } from "./observer-list.js";
import type { SnapshotPolicy } from "./snapshot-policy.js";
import type { Waiters } from "./waiters.js";

export interface ReadyLoopParts {
  id: ReplicaId;
  core: RaftCore;
  logStore: LogStore;
  snapshotStore: SnapshotStore;
  stateMachine: StateMachine;
  transport: Transport;
  waiters: Waiters;
  observers: ObserverList;
  disk: DiskGuard;
  snapshots: SnapshotPolicy;
  stopped(): boolean;
  /** An error the node cannot go on from: it stops. */
  fail(e: Error): void;
}

export class ReadyLoop {
  private busy = false;
  private scheduled = false;
  private lastLeader: ReplicaId | null = null;
  private lastTerm: number;

  constructor(private readonly p: ReadyLoopParts) {
    this.lastTerm = p.core.term;
  }

  /** Runs the loop soon (once per microtask turn, however often it is asked). */
  schedule(): void {
    if (this.scheduled || this.p.stopped()) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const { core } = this.p;
    try {
      while (!this.p.stopped() && core.hasReady()) await this.handle(core.ready());
    } catch (e) {
      this.p.fail(e as Error);
    } finally {
      this.busy = false;
    }
  }

  private async handle(rd: Ready): Promise<void> {
    const { core, observers, disk } = this.p;
    if (rd.softState !== null) this.onSoftState();
    if (rd.hardState !== null && rd.hardState.term !== this.lastTerm) {
      this.lastTerm = rd.hardState.term;
      observers.notify("termChange", this.lastTerm);
    }
    for (const peer of rd.unreachable)
      observers.notify("peerUnreachable", peer, "no answer for an election timeout");
    for (const reason of rd.dropped) observers.notify("badMessage", reason);
    this.sendAll(rd.messages);

    if (rd.snapshot !== null) {
      const s = rd.snapshot;
      await disk.durably(() => this.p.snapshotStore.save(s));
      if (this.p.stopped()) return;
      this.p.stateMachine.restore(s.data);
      this.p.snapshots.installed(s.meta.index);
      const store = this.p.logStore;
      await disk.durably(() =>
        store.resetTo !== undefined
          ? store.resetTo(s.meta.index, s.meta.term)
          : store.compact(s.meta.index, s.meta.term),
      );
      if (this.p.stopped()) return;
    }
    // Committed entries that were already on disk before this Ready need not
    // wait for its write: applying them first answers their proposers while
    // the next batch syncs. Those at or after the first new entry wait for it,
    // and so does a membership change and all after it, whose callers expect the
    // new membership in force (advance) once they are answered.
    const firstNew = rd.entries.length > 0 ? rd.entries[0]!.index : Infinity;
    let split = 0;
    for (const e of rd.committedEntries) {
      if (e.index >= firstNew || e.type === EntryType.Config) break;
      split++;
    }
    if (split > 0)
      this.apply(
        split === rd.committedEntries.length ? rd.committedEntries : rd.committedEntries.slice(0, split),
      );
    if (rd.hardState !== null || rd.entries.length > 0) {
      const update: { hardState?: HardState; entries?: Entry[] } = {};
      if (rd.hardState !== null) update.hardState = rd.hardState;
      if (rd.entries.length > 0) update.entries = rd.entries;
      await disk.durably(() => this.p.logStore.persist(update));
      if (this.p.stopped()) return;
    }
    this.sendAll(rd.messagesAfterPersist);
    if (split < rd.committedEntries.length)
      this.apply(split === 0 ? rd.committedEntries : rd.committedEntries.slice(split));
    for (const rs of rd.readStates) this.p.waiters.readAnswered(rs);
    core.advance(rd);
    this.p.waiters.releaseReads(core.log.applied);
    this.p.snapshots.maybeTake(rd.snapshotWanted);
  }

  private apply(entries: Entry[]): void {
    const { stateMachine, waiters } = this.p;
    for (const e of entries) {
      const result = e.type === EntryType.Normal ? stateMachine.apply(e) : EMPTY_BYTES;
      waiters.applied(e, result);
    }
  }

  private onSoftState(): void {
    const { core, waiters } = this.p;
    const leader = core.lead;
    if (core.role !== Role.Leader) waiters.leadershipLost();
    if (leader !== this.lastLeader) {
      this.lastLeader = leader;
      this.p.observers.notify("leaderChange", leader, core.term);
      if (leader !== null && leader !== this.p.id) waiters.leaderElsewhere(leader);
    }
  }

  private sendAll(msgs: Message[]): void {
    if (msgs.length === 0) return;
    let plain = msgs;
    if (msgs.some((m) => m.type === MessageType.Snapshot)) {
      plain = [];
      for (const m of msgs) {
        if (m.type === MessageType.Snapshot) this.sendSnapshot(m);
        else plain.push(m);
      }
    }
    if (plain.length > 0) this.p.transport.send(plain);
  }

  private sendSnapshot(m: Message): void {
    const { core, transport } = this.p;
    transport.sendSnapshot(m).then(
      () => {
        if (this.p.stopped()) return;
        core.reportSnapshot(m.to, true);
        this.schedule();
      },
      (e: unknown) => {
        if (this.p.stopped()) return;
        core.reportSnapshot(m.to, false);
        this.p.observers.notify("peerUnreachable", m.to, `snapshot failed: ${String(e)}`);
        this.schedule();
      },
    );
  }
}
