// Leadership transfer (TimeoutNow) and membership changes: proposing a
// change one at a time, and applying a Config entry when it is applied
// (including a leader that removed itself and hands over).
import { Replication } from "./replication.js";
import type { Entry, ReplicaId } from "../types.js";
import { EntryType } from "../types.js";
import { NotLeaderError, ProposalDroppedError } from "./errors.js";
import type { MembershipChange } from "./membership.js";
import {
  allMembers,
  applyChanges,
  applyConfigEntry,
  isJoint,
  REVOKED_PREFIX,
  decodeConfigEntry,
  encodeConfigEntry,
  isVoter,
  validateChanges,
} from "./membership.js";
import type { Progress } from "./progress.js";
import { hasQuorum } from "./quorum.js";
import { Role } from "./ready.js";

/** A learner is promoted only when at most this many committed entries behind. */
const PROMOTE_MAX_LAG = 64;

export abstract class Leadership extends Replication {
  protected checkCanPropose(): void {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead);
    if (this.leadTransferee !== null)
      throw new ProposalDroppedError(`leadership is moving to ${this.leadTransferee}`);
    if (!this.promotable()) throw new ProposalDroppedError("this replica is no longer a voter");
  }

  /**
   * The index of the leader's own pending disk registration (see
   * maintainStorage), if that is what blocks a membership change now: the
   * driver waits for it to be applied and tries the change again.
   */
  pendingStorageRegistration(): number | null {
    if (this.role !== Role.Leader || this.pendingConfIndex <= this.log.applied) return null;
    const e = this.log.entryAt(this.pendingConfIndex);
    if (e === undefined || e.type !== EntryType.Config) return null;
    try {
      return decodeConfigEntry(e.data).kind === "storage" ? this.pendingConfIndex : null;
    } catch {
      return null;
    }
  }

  /**
   * Proposes a membership change; returns the index of its Config entry.
   * Refused (ProposalDroppedError, saying why) when it is malformed, promotes
   * anything but a learner, promotes a learner that has not caught up, or would
   * leave the configuration without a live quorum (voters heard from within an
   * election timeout, on the disk registered for them). `force` skips the last
   * two checks: the operator knows better (e.g. a voter that will come back).
   */
  proposeMembershipChange(changes: MembershipChange[], force = false): number {
    this.checkCanPropose();
    if (this.pendingConfIndex > this.log.applied)
      throw new ProposalDroppedError("another membership change is not yet applied");
    const why = validateChanges(this.membership, changes) ?? (force ? null : this.unsafeChange(changes));
    if (why !== null) throw new ProposalDroppedError(why);
    const index = this.appendEntry(EntryType.Config, encodeConfigEntry({ kind: "change", changes }));
    this.pendingConfIndex = index;
    return index;
  }

  /** Why a valid change would weaken the cluster, or null. */
  private unsafeChange(changes: MembershipChange[]): string | null {
    for (const c of changes) {
      if (c.op !== "addVoter") continue;
      const pr = this.progress.get(c.id);
      // A learner that never answered (or not lately) holds nothing we know of.
      const heard =
        pr !== undefined && pr.storage !== undefined && this.ticks - pr.lastHeard <= this.cfg.electionTick;
      const behind = heard ? this.log.committed - pr.match : null;
      if (behind === null || behind > PROMOTE_MAX_LAG)
        return `learner ${c.id} has not caught up (${behind === null ? "never heard from" : `${behind} entries behind the commit index`}); retry once it has, or force`;
    }
    const live = (id: ReplicaId): boolean => {
      if (id === this.id) return true;
      const pr = this.progress.get(id);
      return (
        pr !== undefined && this.ticks - pr.lastHeard <= this.cfg.electionTick && this.progressCounts(id)
      );
    };
    const next = applyChanges(this.membership, changes);
    if (hasQuorum(next.voters, next.outgoing ?? [], live)) return null;
    const all = [...new Set([...next.voters, ...(next.outgoing ?? [])])];
    const down = all.filter((id) => !live(id));
    return `the change would leave no live quorum: ${all.length - down.length} of ${all.length} voters answer (not ${down.join(", ")}); use force to do it anyway`;
  }

  /** Hands leadership to `to`, or to the most up-to-date voter. */
  transferLeadership(to?: ReplicaId): ReplicaId {
    if (this.role !== Role.Leader) throw new NotLeaderError(this.lead);
    let target = to ?? null;
    if (target === null) {
      let best = -1;
      for (const id of this.voters()) {
        const pr = this.progress.get(id);
        // Never to a voter that lost its disk and counts for nothing yet.
        if (id === this.id || pr === undefined || !this.progressCounts(id)) continue;
        if (pr.match > best) {
          best = pr.match;
          target = id;
        }
      }
    }
    if (target === null) throw new ProposalDroppedError("no other voter to transfer leadership to");
    if (target === this.id) throw new ProposalDroppedError("already the leader");
    if (!isVoter(this.membership, target)) throw new ProposalDroppedError(`${target} is not a voter`);
    const pr = this.progress.get(target) as Progress;
    this.leadTransferee = target;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, true);
    return target;
  }

  /** A leader that is no longer a voter passes the office on. */
  protected handOver(): void {
    try {
      this.transferLeadership();
    } catch {
      // No voter to hand over to (yet): try again at the next election timeout.
    }
  }

  /**
   * The leader keeps the registered disks (Membership.storage) in line with
   * what its members answer from, one Config entry at a time, like any change:
   * 1. a member whose disk changed is revoked first (it counts for nothing,
   *    and leftovers of its lost disk are dropped);
   * 2. a revoked member whose new disk holds every committed entry is registered
   *    again (it counts again: a single-voter change);
   * 3. members never registered are registered with the disk they answer from.
   */
  protected maintainStorage(): void {
    if (
      this.role !== Role.Leader ||
      this.leadTransferee !== null ||
      this.pendingConfIndex > this.log.applied ||
      isJoint(this.membership) ||
      !this.promotable() ||
      this.log.term(this.log.committed) !== this.term
    )
      return;
    const registered = this.membership.storage ?? {};
    const members = allMembers(this.membership);
    const known = (id: ReplicaId): string | null => {
      const seen = this.progress.get(id)?.storage;
      return seen === undefined || seen === "" ? null : seen;
    };
    for (const id of members) {
      const seen = known(id);
      const r = registered[id];
      if (seen !== null && r !== undefined && !r.startsWith(REVOKED_PREFIX) && r !== seen) {
        this.proposeStorage({ [id]: REVOKED_PREFIX + r });
        return;
      }
    }
    for (const id of members) {
      const seen = known(id);
      const r = registered[id];
      const pr = this.progress.get(id);
      if (
        seen !== null &&
        pr !== undefined &&
        r !== undefined &&
        r.startsWith(REVOKED_PREFIX) &&
        r !== REVOKED_PREFIX + seen &&
        pr.match >= this.log.committed
      ) {
        this.proposeStorage({ [id]: seen });
        return;
      }
    }
    const fresh: Record<ReplicaId, string> = {};
    for (const id of members) {
      const seen = known(id);
      if (seen !== null && registered[id] === undefined) fresh[id] = seen;
    }
    if (Object.keys(fresh).length > 0) this.proposeStorage(fresh);
  }

  private proposeStorage(ids: Record<ReplicaId, string>): void {
    this.pendingConfIndex = this.appendEntry(EntryType.Config, encodeConfigEntry({ kind: "storage", ids }));
  }

  protected applyConfig(e: Entry): void {
    let payload;
    try {
      payload = decodeConfigEntry(e.data);
    } catch {
      return; // a malformed entry changes nothing, identically on every replica
    }
    this.membership = applyConfigEntry(this.membership, payload);
    if (this.role !== Role.Leader) return;
    this.syncProgress();
    if (!isVoter(this.membership, this.id)) {
      // Removed or demoted. Stepping down at once could leave the others
      // unable to elect anyone: they may not know yet that the change is
      // committed and still need this replica's vote under the old (joint)
      // membership. So keep leading, without counting ourselves and without
      // accepting proposals, spread the commit index, and hand over to the
      // most up-to-date voter (TimeoutNow), retried every election timeout.
      this.pendingBroadcast = true;
      this.bcastAppend(true);
      this.handOver();
      return;
    }
    if (this.leadTransferee !== null && !isVoter(this.membership, this.leadTransferee))
      this.leadTransferee = null;
    if (this.maybeCommit()) this.pendingBroadcast = true;
    this.bcastAppend(false);
  }
}
