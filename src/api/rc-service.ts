// The recovery coordinator's part of the client service: SubmitEvents,
// GetGraph, WatchGraph, GetEpoch and GetOutbox. Submitting goes through the
// Raft log on the leader; the reads answer from this replica's applied state
// (any replica), with the applied index they show.
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type {
  GetEpochResponse,
  GetGraphRequest,
  GetGraphResponse,
  GetOutboxResponse,
  GraphUpdate,
  SubmitEventsRequest,
  SubmitEventsResponse,
  WatchGraphRequest,
} from "../gen/halon/v1/client.js";
import type { Event } from "../gen/halon/v1/events.js";
import { decodeApplyResult, encodeEventBatch, type History, type RcStateMachine } from "../rc/index.js";
import { LeadershipLostError } from "../raft/core/errors.js";
import { GrpcError } from "./grpc-errors.js";
import type { GraphWatchHub } from "./graph-watch-hub.js";
import { neighbourhood, wholeGraph } from "./graph-view.js";
import type { ReplicaControl } from "./replica-control.js";

/** What the client service needs from a replica that runs the recovery coordinator. */
export interface RcAccess {
  readonly machine: RcStateMachine;
  readonly hub: GraphWatchHub;
  /** What the machine applied, cause by cause (fed by its onTrace). */
  readonly history: History;
  /** The leader saw these events arrive (signs of life for its failure detector). */
  heard(events: Event[]): void;
}

export interface RcLimits {
  /** Events in one SubmitEvents call. */
  maxEvents: number;
  /** Encoded size of one SubmitEvents batch. */
  maxBatchBytes: number;
  /** A watcher whose unsent updates exceed this is cut off (it resumes from its last index). */
  maxWatchBufferBytes: number;
}

export const DEFAULT_RC_LIMITS: RcLimits = {
  maxEvents: 1_000,
  maxBatchBytes: 1024 * 1024,
  maxWatchBufferBytes: 16 * 1024 * 1024,
};

const NOT_RC = "this replica runs the hash-chain test state machine, not the recovery coordinator";

export function requireRc(rc: RcAccess | null): RcAccess {
  if (!rc) throw new GrpcError(status.FAILED_PRECONDITION, NOT_RC);
  return rc;
}

/** Checks a batch, proposes it, and answers with one outcome per event once it is applied. */
export async function submitEvents(
  control: ReplicaControl,
  rc: RcAccess,
  req: SubmitEventsRequest,
  limits: RcLimits,
): Promise<SubmitEventsResponse> {
  const events = req.events;
  if (events.length === 0) throw new GrpcError(status.INVALID_ARGUMENT, "events: the batch is empty");
  if (events.length > limits.maxEvents)
    throw new GrpcError(
      status.RESOURCE_EXHAUSTED,
      `events: ${events.length} events is over the limit of ${limits.maxEvents} per call; split the batch`,
    );
  events.forEach((e, i) => {
    if (e.id === "") throw new GrpcError(status.INVALID_ARGUMENT, `events[${i}].id: an event needs an id`);
  });
  const payload = encodeEventBatch(Date.now(), events);
  if (payload.length > limits.maxBatchBytes)
    throw new GrpcError(
      status.RESOURCE_EXHAUSTED,
      `events: the batch is ${payload.length} bytes, over the limit of ${limits.maxBatchBytes}; split it`,
    );
  const res = await control.propose(payload).catch((err: unknown) => {
    // Unlike a raw payload, events carry ids: resubmitting them cannot apply them twice.
    if (err instanceof LeadershipLostError)
      throw new GrpcError(
        status.UNAVAILABLE,
        `${err.message}; the batch may or may not be applied: resubmit the same events (same ids)`,
      );
    throw err;
  });
  rc.heard(events);
  const applied = decodeApplyResult(res.result);
  if (applied.error !== "") throw new GrpcError(status.INTERNAL, `the batch was refused: ${applied.error}`);
  return { index: res.index, results: applied.events, commands: applied.commands };
}

const ID = /^[^\s\p{Cc}]{1,256}$/u;

export function getGraph(control: ReplicaControl, rc: RcAccess, req: GetGraphRequest): GetGraphResponse {
  const sm = rc.machine;
  let graph;
  if (req.resourceId === "") graph = wholeGraph(sm.graph);
  else {
    if (!ID.test(req.resourceId))
      throw new GrpcError(status.INVALID_ARGUMENT, `resource_id: "${req.resourceId}" is not a resource id`);
    const view = neighbourhood(sm.graph, req.resourceId);
    if (!view)
      throw new GrpcError(
        status.NOT_FOUND,
        `resource_id: no resource "${req.resourceId}" in the graph (at index ${sm.lastApplied})`,
      );
    graph = view;
  }
  const summary = sm.summary();
  return {
    graph,
    appliedIndex: sm.lastApplied,
    stateHash: `${summary.count}:${summary.hash}`,
    epoch: sm.epoch,
    replicaId: control.id,
  };
}

export function getEpoch(rc: RcAccess): GetEpochResponse {
  const g = rc.machine.graph;
  return {
    epoch: rc.machine.epoch,
    pools: g.byKind("Pool").map((poolId) => ({
      poolId,
      epoch: (g.attr(poolId, "epoch") as number | undefined) ?? 0,
      failedDiskIds: (g.attr(poolId, "failureVector") as string[] | undefined) ?? [],
    })),
    appliedIndex: rc.machine.lastApplied,
  };
}

export function getOutbox(rc: RcAccess): GetOutboxResponse {
  return {
    pending: rc.machine.pendingCommands(),
    nodesAwaitingEpoch: rc.machine.nodesAwaitingEpoch(),
    appliedIndex: rc.machine.lastApplied,
  };
}

/**
 * Streams graph changes: first what the watcher missed since from_index (or
 * the whole graph when those changes are no longer kept), then every applied
 * entry's changes as it happens. Ends when the client cancels.
 */
export function watchGraph(
  rc: RcAccess,
  call: ServerWritableStream<WatchGraphRequest, GraphUpdate>,
  limits: RcLimits,
): void {
  const from = call.request.fromIndex;
  const whole = (): GraphUpdate => ({
    index: rc.machine.lastApplied,
    graph: wholeGraph(rc.machine.graph),
    changes: [],
  });
  let closed = false;
  const write = (u: GraphUpdate) => {
    if (closed) return;
    if (call.writableLength > limits.maxWatchBufferBytes) {
      closed = true;
      unsubscribe();
      call.emit("error", {
        code: status.RESOURCE_EXHAUSTED,
        details: `the watcher is too slow; resume from index ${u.index - 1}`,
      });
      return;
    }
    call.write(u);
  };
  // Everything below runs in one turn of the event loop: no entry can be applied in between.
  const missed = from === 0 ? null : rc.hub.since(from);
  if (missed === null) write(whole());
  else for (const m of missed) write({ index: m.index, graph: undefined, changes: m.changes });
  let last = missed === null ? rc.machine.lastApplied : Math.max(from, rc.machine.lastApplied);
  const unsubscribe = rc.hub.subscribe((item) => {
    if ("reset" in item) {
      write(whole());
      last = rc.machine.lastApplied;
    } else if (item.index > last) {
      write({ index: item.index, graph: undefined, changes: item.changes });
      last = item.index;
    }
  });
  const end = () => {
    closed = true;
    unsubscribe();
  };
  call.on("cancelled", end);
  call.on("close", end);
  call.on("error", end);
}
