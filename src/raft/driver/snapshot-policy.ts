// When a node takes a snapshot of its state machine, and how far it then
// compacts its log: in the background, once enough entries were applied since
// the last snapshot or when the core needs one for a follower. A snapshot that
// took long (a large state: at 10,000 hosts, about half a second of work) is
// followed by a pause PACE times as long before the next threshold-triggered
// one, so that a fast writer cannot keep a replica snapshotting all the time:
// at most about a fifth of its time goes to snapshots, whatever the threshold.
import type { RaftCore } from "../core/raft.js";
import { cloneMembership } from "../core/membership.js";
import type { LogStore, Snapshot, SnapshotStore, StateCapture, StateMachine } from "../storage.js";
import { isNoSpaceError } from "../storage.js";

export interface SnapshotPolicyHost {
  core: RaftCore;
  stateMachine: StateMachine;
  snapshotStore: SnapshotStore;
  logStore: LogStore;
  /** Entries applied since the last snapshot that trigger the next one (0: only when wanted). */
  threshold: number;
  /** Entries kept in the log behind a snapshot, so that slow followers need no snapshot. */
  trailingEntries: number;
  ticks(): number;
  stopped(): boolean;
  /** Ticks to wait after a snapshot failed for lack of space. */
  retryTicks(): number;
  /** A store failed in a way the node cannot go on from. */
  fail(e: Error): void;
  snapshotFailed(e: Error): void;
}

/** Pause after a snapshot, as a multiple of the ticks it took (see above). */
export const PACE = 4;
/** Snapshots shorter than this many ticks are not paced (small states, and tests, snapshot at will). */
const PACE_FROM_TICKS = 2;

export class SnapshotPolicy {
  private taking = false;
  /** No background snapshot before this tick (one failed for lack of space). */
  private notBefore = 0;
  /** No threshold-triggered snapshot before this tick (the last one took long). */
  private pacedUntil = 0;

  constructor(
    private readonly host: SnapshotPolicyHost,
    /** The index of the newest snapshot saved or installed. */
    public index: number,
  ) {}

  /** A snapshot from the leader was installed. */
  installed(index: number): void {
    this.index = index;
  }

  /** Takes a snapshot in the background if one is due, or if the core wants one (`wanted`). */
  maybeTake(wanted = false): void {
    const { core, threshold } = this.host;
    const applied = core.log.applied;
    if (this.taking || applied <= this.index) return;
    if (!wanted && (threshold === 0 || applied - this.index < threshold)) return;
    if (this.host.ticks() < this.notBefore) return;
    if (!wanted && this.host.ticks() < this.pacedUntil) return;
    const term = core.log.term(applied);
    if (term === undefined) return;
    const meta = { index: applied, term, membership: cloneMembership(core.membership) };
    // Captured now, at `applied`; encoded in the background when the machine can (see StateMachine.capture).
    const sm = this.host.stateMachine;
    const data: Uint8Array | StateCapture = sm.capture ? sm.capture() : sm.snapshot();
    this.taking = true;
    void this.save(meta, data, this.host.ticks());
  }

  private async save(
    meta: Snapshot["meta"],
    captured: Uint8Array | StateCapture,
    startTick: number,
  ): Promise<void> {
    const host = this.host;
    try {
      const data = captured instanceof Uint8Array ? captured : await captured.persist();
      if (host.stopped()) return;
      const snapshot: Snapshot = { meta, data };
      await host.snapshotStore.save(snapshot);
      if (host.stopped()) return;
      // Never past the previous snapshot (the snapshot store keeps it): if the new file is
      // later found torn, the replica falls back to the previous one and needs the log after it.
      const previous = this.index;
      const compactTo = Math.max(0, Math.min(snapshot.meta.index - host.trailingEntries, previous));
      const compactTerm = host.core.log.term(compactTo);
      host.core.compact(snapshot, compactTo);
      this.index = Math.max(this.index, snapshot.meta.index);
      if (compactTerm !== undefined && compactTo > 0) await host.logStore.compact(compactTo, compactTerm);
      const took = host.ticks() - startTick;
      if (took >= PACE_FROM_TICKS) this.pacedUntil = host.ticks() + PACE * took;
    } catch (e) {
      if (!isNoSpaceError(e)) {
        host.fail(e as Error);
        return;
      }
      // The log keeps growing until there is room for a snapshot; try again after a probe interval.
      this.notBefore = host.ticks() + host.retryTicks();
      host.snapshotFailed(e as Error);
    } finally {
      this.taking = false;
    }
  }
}
