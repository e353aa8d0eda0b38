// The recovery coordinator's part of the client service: SubmitEvents,
// GetGraph, WatchGraph, GetEpoch and GetOutbox. Submitting goes through the
// Raft log on the leader; the reads answer from this replica's applied state
// (any replica), with the applied index they show.
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import {
  GraphUpdate,
  type GetEpochResponse,
  type GetGraphRequest,
  type GetGraphResponse,
  type GetOutboxResponse,
  type SubmitEventsRequest,
  type SubmitEventsResponse,
  type WatchGraphRequest,
} from "../gen/halon/v1/client.js";
import type { Event } from "../gen/halon/v1/events.js";
import {
  decodeApplyResult,
  encodeEventBatch,
  RcRejection,
  validateEvent,
  type History,
  type RcStateMachine,
} from "../rc/index.js";
import { LeadershipLostError } from "../raft/core/errors.js";
import { GrpcError, quote } from "./grpc-errors.js";
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
  /** A sign of life from a node that is no event: its session renewal (node-session.ts). */
  heardFrom(nodeId: string): void;
  /** The time to stamp an entry with: the leader's clock (see leader-clock.ts). */
  now(): number;
  /** The newest state hash computed, as "index:sha256" ("" before the first); never computes one. */
  stateHash(): string;
}

export interface RcLimits {
  /** Events in one SubmitEvents call. */
  maxEvents: number;
  /** Encoded size of one SubmitEvents batch. */
  maxBatchBytes: number;
  /**
   * A watcher whose updates not yet taken by the network (encoded bytes
   * queued in grpc-js) exceed this is cut off (it resumes from its last index).
   */
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
  checkAtTheGate(events);
  if (!rc.machine.dedupHasRoom(events.length))
    throw new GrpcError(
      status.RESOURCE_EXHAUSTED,
      "events: too many events within the dedup retention; retry later (resubmit with the same ids)",
    );
  const payload = encodeEventBatch(rc.now(), events);
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
  return { index: res.index, results: applied.events, commands: applied.commands, term: res.term };
}

/**
 * Every check that needs no state, before proposing: an event that would be
 * rejected whatever the state never enters the log. The answer names the event
 * and the field. Checks that need the graph stay at apply.
 */
export function checkAtTheGate(events: Event[]): void {
  events.forEach((e, i) => {
    if (e.id === "") throw new GrpcError(status.INVALID_ARGUMENT, `events[${i}].id: an event needs an id`);
    try {
      validateEvent(e);
    } catch (err) {
      if (!(err instanceof RcRejection)) throw err;
      throw new GrpcError(status.INVALID_ARGUMENT, `events[${i}].${err.message} (${err.code})`);
    }
  });
}

const ID = /^[^\s\p{Cc}]{1,256}$/u;

export function getGraph(control: ReplicaControl, rc: RcAccess, req: GetGraphRequest): GetGraphResponse {
  const sm = rc.machine;
  let graph;
  if (req.resourceId === "") graph = wholeGraph(sm.graph);
  else {
    if (!ID.test(req.resourceId))
      throw new GrpcError(
        status.INVALID_ARGUMENT,
        `resource_id: ${quote(req.resourceId)} is not a resource id (1 to 256 characters, no spaces or control characters)`,
      );
    const view = neighbourhood(sm.graph, req.resourceId);
    if (!view)
      throw new GrpcError(
        status.NOT_FOUND,
        `resource_id: no resource ${quote(req.resourceId)} in the graph (at index ${sm.lastApplied})`,
      );
    graph = view;
  }
  return {
    graph,
    appliedIndex: sm.lastApplied,
    stateHash: rc.stateHash(),
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
  let unsubscribe: () => void = () => undefined;
  // Bytes handed to grpc-js and not yet written to the connection. grpc-js's
  // writableLength counts messages (object mode), not bytes: count them here.
  let queuedBytes = 0;
  let lastSent = from;
  const write = (u: GraphUpdate) => {
    if (closed) return;
    const size = GraphUpdate.encode(u).finish().length;
    if (queuedBytes + size > limits.maxWatchBufferBytes) {
      closed = true;
      unsubscribe();
      call.emit("error", {
        code: status.RESOURCE_EXHAUSTED,
        details:
          `the watcher is too slow: ${queuedBytes} bytes wait to be sent (limit ${limits.maxWatchBufferBytes}); ` +
          `resume from index ${lastSent}`,
      });
      return;
    }
    queuedBytes += size;
    lastSent = u.index;
    call.write(u, () => {
      queuedBytes -= size;
    });
  };
  // Everything below runs in one turn of the event loop: no entry can be applied in between.
  const missed = from === 0 ? null : rc.hub.since(from);
  if (missed === null) write(whole());
  else for (const m of missed) write({ index: m.index, graph: undefined, changes: m.changes });
  let last = missed === null ? rc.machine.lastApplied : Math.max(from, rc.machine.lastApplied);
  if (closed) return; // cut already by the catch-up
  unsubscribe = rc.hub.subscribe((item) => {
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
