// The leader's failure detector (DESIGN.md, "Recovery rules"): a node service
// that has not been heard from for `silentAfterMs` is declared silent by a
// NodeSilent event the leader proposes. It runs on the leader only and is not
// replicated state: a new leader starts afresh and waits a grace period after
// its election, so that nodes have time to find it before any is suspected.
import type { Event } from "../../gen/halon/v1/events.js";

export interface FailureDetectorConfig {
  /** No heartbeat for this long (ms of the leader's clock): silent. */
  silentAfterMs: number;
  /** After winning an election, suspect nobody for this long. */
  graceAfterElectionMs: number;
}

export class FailureDetector {
  private leaderSince: number | null = null;
  private readonly lastHeard = new Map<string, number>();
  /** Nodes already declared silent, with the time they were last heard then. */
  private readonly declared = new Map<string, number>();
  /**
   * The last nextDeadline() answer and the online set's version it was for.
   * Hearing from a node only moves its deadline later, so the cached answer
   * stays a safe lower bound until the set changes, a silent node is heard
   * again, or silentNodes() runs: the leader's loop asks at every step, which
   * must not cost a pass over 10,000 nodes.
   */
  private deadline: { version: number; at: number | undefined } | null = null;

  constructor(readonly config: FailureDetectorConfig) {}

  becameLeader(now: number): void {
    this.deadline = null;
    this.leaderSince = now;
    this.lastHeard.clear();
    this.declared.clear();
  }

  stoppedLeading(): void {
    this.deadline = null;
    this.leaderSince = null;
  }

  /** Any sign of life from the node (a heartbeat, a join, any event it sent). */
  heard(nodeId: string, now: number): void {
    const before = this.lastHeard.get(nodeId);
    if (before === undefined || now > before) this.lastHeard.set(nodeId, now);
    if (this.declared.delete(nodeId)) this.deadline = null;
  }

  /**
   * The nodes to declare silent now, among `online` (the nodes the state
   * machine has online), sorted; each is returned once until heard from again.
   */
  silentNodes(now: number, online: Iterable<string>): string[] {
    this.deadline = null;
    const since = this.leaderSince;
    if (since === null || now - since < this.config.graceAfterElectionMs) return [];
    const out: string[] = [];
    for (const nodeId of online) {
      if (this.declared.has(nodeId)) continue;
      const last = Math.max(this.lastHeard.get(nodeId) ?? since, since);
      if (now - last >= this.config.silentAfterMs) {
        this.declared.set(nodeId, last);
        out.push(nodeId);
      }
    }
    return out.sort();
  }

  /**
   * The earliest time at which silentNodes() could name one of `online` (with
   * nothing heard until then), or undefined when it never will: when the
   * leader's loop should look again. `version` changes whenever `online` does
   * (without one, nothing is cached).
   */
  nextDeadline(online: Iterable<string>, version?: number): number | undefined {
    if (version !== undefined && this.deadline?.version === version) return this.deadline.at;
    const at = this.computeDeadline(online);
    if (version !== undefined) this.deadline = { version, at };
    return at;
  }

  private computeDeadline(online: Iterable<string>): number | undefined {
    const since = this.leaderSince;
    if (since === null) return undefined;
    let next: number | undefined;
    for (const nodeId of online) {
      if (this.declared.has(nodeId)) continue;
      const last = Math.max(this.lastHeard.get(nodeId) ?? since, since);
      const at = Math.max(last + this.config.silentAfterMs, since + this.config.graceAfterElectionMs);
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** The event to propose for a silent node; its id names the silence, so a retry is deduplicated. */
  silentEvent(nodeId: string): Event {
    const last = this.declared.get(nodeId) ?? this.leaderSince ?? 0;
    return { id: `silent:${nodeId}:${last}`, source: "leader", nodeSilent: { nodeId } };
  }
}
