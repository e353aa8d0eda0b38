// Epochs: the cluster epoch, each pool's epoch and failure vector, and the
// broadcast EpochTransition that follows every change. The broadcast waits for
// the online, undrained nodes that have not acknowledged the epoch; that set
// is derived from the graph (rebuilt on restore) and kept current by
// refresh() wherever a node's state, drain flag or acknowledged epoch changes.
// It is kept as its complement (the usable nodes that did acknowledge), so
// that a new epoch costs the same whatever the size of the cluster.
import type { Command, EpochTransition, PoolEpoch } from "../gen/halon/v1/events.js";
import type { Graph } from "../graph/index.js";
import { compareStrings } from "../graph/index.js";
import type { Outbox } from "./outbox.js";
import { CLUSTER_ID } from "./topology.js";

/** The target of a command meant for every node that awaits it. */
export const BROADCAST = "*";

export type Issue = (
  slot: string,
  target: string,
  body: Omit<Command, "id" | "target" | "issuedAtMs" | "issuedIndex" | "issuedTerm">,
) => void;

/** A disk leaves ("out") or rejoins ("in") its pool's healthy set: [pool, disk, direction]. */
export type VectorChange = [string, string, "out" | "in"];

export class Epochs {
  /** Online, undrained nodes. */
  private readonly usable = new Set<string>();
  /** The usable nodes that acknowledged the current epoch: the broadcast awaits the others. */
  private readonly acked = new Set<string>();
  /** The current transition, shared by every command that carries it (commands are never mutated). */
  private transitionCache: EpochTransition | undefined;

  constructor(
    private readonly graph: Graph,
    private readonly outbox: Outbox,
    private readonly issue: Issue,
  ) {
    graph.forEachOfKind("Node", (nodeId) => this.refresh(nodeId));
  }

  current(): number {
    return (this.graph.attr(CLUSTER_ID, "epoch") as number | undefined) ?? 0;
  }

  /** Nodes the broadcast is still to be delivered to, sorted. */
  nodesAwaiting(): string[] {
    if (this.acked.size === this.usable.size) return [];
    const out: string[] = [];
    for (const nodeId of this.usable) if (!this.acked.has(nodeId)) out.push(nodeId);
    return out.sort(compareStrings);
  }

  failureVector(poolId: string): string[] {
    return (this.graph.attr(poolId, "failureVector") as string[] | undefined) ?? [];
  }

  /** Applies the changes to the failure vectors, then one epoch transition for all of them. */
  changeVectors(changes: VectorChange[]): void {
    const vectors = new Map<string, Set<string>>();
    for (const [poolId, diskId, dir] of changes) {
      const v = vectors.get(poolId) ?? new Set(this.failureVector(poolId));
      if (dir === "out") v.add(diskId);
      else v.delete(diskId);
      vectors.set(poolId, v);
    }
    const epoch = this.current() + 1;
    this.graph.setAttr(CLUSTER_ID, "epoch", epoch);
    for (const poolId of [...vectors.keys()].sort(compareStrings))
      this.graph.setAttrs(poolId, {
        epoch,
        failureVector: [...(vectors.get(poolId) as Set<string>)].sort(compareStrings),
      });
    // One broadcast rather than a command per node: the cost of an epoch
    // change does not grow with the cluster. Every usable node acknowledged at
    // most the previous epoch, so all of them await this one.
    this.acked.clear();
    // Older per-node transitions are superseded by the broadcast.
    this.outbox.cancelFamily("epoch", `epoch:${BROADCAST}`);
    if (this.usable.size > 0)
      this.issue(`epoch:${BROADCAST}`, BROADCAST, { epochTransition: this.transition() });
    else this.outbox.cancel(`epoch:${BROADCAST}`);
  }

  /** Re-derives whether `nodeId` is usable and awaited; ends the broadcast when nobody is awaited. */
  refresh(nodeId: string): void {
    const attrs = this.graph.get(nodeId)?.attrs;
    const usable = attrs !== undefined && attrs.state === "online" && attrs.drained !== true;
    const wasAwaiting = this.usable.has(nodeId) && !this.acked.has(nodeId);
    if (usable) {
      this.usable.add(nodeId);
      if (((attrs.ackedEpoch as number | undefined) ?? 0) < this.current()) this.acked.delete(nodeId);
      else this.acked.add(nodeId);
    } else {
      this.usable.delete(nodeId);
      this.acked.delete(nodeId);
    }
    // The last awaited node is done (acknowledged, or no longer usable): the broadcast ends.
    if (wasAwaiting && this.acked.size === this.usable.size) this.outbox.cancel(`epoch:${BROADCAST}`);
  }

  /** Sends the current epoch to one node (a request, a late joiner, a node back). */
  send(nodeId: string): void {
    this.issue(`epoch:${nodeId}`, nodeId, { epochTransition: this.transition() });
  }

  recordAck(nodeId: string, epoch: number): void {
    const acked = (this.graph.attr(nodeId, "ackedEpoch") as number | undefined) ?? 0;
    const current = this.current();
    if (epoch <= acked || epoch > current) return;
    this.graph.setAttr(nodeId, "ackedEpoch", epoch);
    // refresh(nodeId), for the one case that changes something (most heartbeats after a new epoch).
    if (epoch === current && this.usable.has(nodeId) && !this.acked.has(nodeId)) {
      this.acked.add(nodeId);
      if (this.acked.size === this.usable.size) this.outbox.cancel(`epoch:${BROADCAST}`);
    }
  }

  /** Pools may have changed (a topology declaration): build the transition afresh next time. */
  forgetTransition(): void {
    this.transitionCache = undefined;
  }

  /** Built once per epoch; keys in sorted order, as the snapshot needs (see plain.ts). */
  private transition(): EpochTransition {
    const epoch = this.current();
    if (this.transitionCache?.epoch === epoch) return this.transitionCache;
    const pools: PoolEpoch[] = this.graph.byKind("Pool").map((poolId) => ({
      epoch: (this.graph.attr(poolId, "epoch") as number | undefined) ?? 0,
      failedDiskIds: this.failureVector(poolId),
      poolId,
    }));
    this.transitionCache = { epoch, pools };
    return this.transitionCache;
  }
}
