// The leader's view of one follower: how far it matches, what to send next,
// and in which mode (probing for the match, replicating in a pipeline, or
// waiting for a snapshot).
import { Inflights } from "./inflights.js";
import { assert } from "../../util/assert.js";

export enum ProgressState {
  /** One message at a time until the match is found. */
  Probe = "probe",
  /** Optimistic pipelining within the inflight window. */
  Replicate = "replicate",
  /** A snapshot is on its way; send nothing else. */
  Snapshot = "snapshot",
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** The index of the snapshot being sent, in Snapshot state. */
  pendingSnapshot = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** In Probe: a message is out, wait for an answer or a heartbeat response. */
  probeSent = false;
  /** The leader's tick count when this member was last heard from (membership checks). */
  lastHeard = 0;
  /** The storage identity in the member's latest message (undefined until it answers). */
  storage: string | undefined = undefined;
  readonly inflights: Inflights;

  constructor(
    next: number,
    public isLearner: boolean,
    maxInflight: number,
    maxInflightBytes: number,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  /** What the follower is known to hold is always before what is sent next. */
  private checkInvariant(): void {
    assert(this.match < this.next, () => `progress: match ${this.match} is not before next ${this.next}`);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  /** Forgets the match (the follower lost entries, or its answers were impossible) and probes from `next`. */
  reset(next: number): void {
    this.resetState(ProgressState.Probe);
    this.match = 0;
    this.next = next;
    this.checkInvariant();
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** After sending entries up to `lastIndex`. */
  sentEntries(count: number, bytes: number, lastIndex: number): void {
    if (this.state === ProgressState.Replicate) {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
        this.checkInvariant();
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  /** An acknowledgement up to `n`; false when it was stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    this.checkInvariant();
    return updated;
  }

  /**
   * A rejection of the append at `rejected`; `matchHint` is where the
   * follower's log may match. False when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      default:
        return true;
    }
  }
}
