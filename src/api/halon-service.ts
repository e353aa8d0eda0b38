// The client service (proto/halon/v1/client.proto) over a ReplicaControl:
// checks requests, and turns the Raft library's errors into gRPC statuses a
// client can act on (FAILED_PRECONDITION names the leader's address, both in
// the message and in the trailer "halon-leader-address").
import { Metadata, status, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import type { HalonServiceServer } from "../gen/halon/v1/client.js";
import {
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  RaftStoppedError,
} from "../raft/core/errors.js";
import { GrpcError, quote, toServiceError } from "./grpc-errors.js";
import { explain, getHistory } from "./history-service.js";
import type { ReplicaControl } from "./replica-control.js";
import { changeRules, getRules } from "./rules-service.js";
import { renewSession } from "./node-session.js";
import {
  DEFAULT_RC_LIMITS,
  getEpoch,
  getGraph,
  getOutbox,
  requireRc,
  submitEvents,
  watchGraph,
  type RcAccess,
  type RcLimits,
} from "./rc-service.js";

export const LEADER_ADDRESS_TRAILER = "halon-leader-address";

export interface HalonServiceLimits {
  /** Larger payloads get RESOURCE_EXHAUSTED. */
  maxPayloadBytes: number;
  /** Proposals waiting to be applied at once; beyond it RESOURCE_EXHAUSTED (the client should back off). */
  maxPendingProposals: number;
}

export const DEFAULT_LIMITS: HalonServiceLimits = {
  maxPayloadBytes: 1024 * 1024,
  maxPendingProposals: 10_000,
};

const ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const PROPOSE_CLOSED =
  "Propose is closed on recovery-coordinator replicas: only the coordinator writes its log; send events with SubmitEvents";

/**
 * @param rc the recovery coordinator's state, when the replica runs it; the
 *   coordinator's calls answer FAILED_PRECONDITION on a replica without it.
 */
export function createHalonService(
  control: ReplicaControl,
  limits = DEFAULT_LIMITS,
  rc: RcAccess | null = null,
  rcLimits: RcLimits = DEFAULT_RC_LIMITS,
): HalonServiceServer {
  let pending = 0;

  /** Counts a proposal in flight; beyond the limit the client is told to back off. */
  async function limited<T>(work: () => Promise<T>): Promise<T> {
    if (pending >= limits.maxPendingProposals) {
      throw new GrpcError(status.RESOURCE_EXHAUSTED, `${pending} proposals are waiting; retry later`);
    }
    pending++;
    try {
      return await work();
    } finally {
      pending--;
    }
  }

  /** Runs a handler and answers with its result or with the status its error maps to. */
  function answer<Req, Res>(
    call: ServerUnaryCall<Req, Res>,
    callback: sendUnaryData<Res>,
    work: () => Promise<Res>,
  ): void {
    // Through a promise, so that a check that throws at once is answered like any other error.
    Promise.resolve()
      .then(work)
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          const mapped = mapError(control, err);
          const trailer = new Metadata();
          if (mapped.leaderAddress) trailer.set(LEADER_ADDRESS_TRAILER, mapped.leaderAddress);
          callback({ ...toServiceError(mapped.error), metadata: trailer });
        },
      );
    void call;
  }

  /**
   * A read of this replica's applied state: linearizable (after a ReadIndex
   * round) unless the request asks for a stale read, which answers at once.
   */
  async function read<Res>(req: { stale: boolean }, work: () => Res): Promise<Res> {
    requireRc(rc);
    if (!req.stale) await control.readBarrier();
    return work();
  }

  function requireId(id: string, field = "id"): string {
    if (!ID.test(id))
      throw new GrpcError(
        status.INVALID_ARGUMENT,
        `${field}: ${quote(id)} is not a replica id (1 to 63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit)`,
      );
    return id;
  }

  return {
    propose: (call, callback) =>
      answer(call, callback, async () => {
        // Only the coordinator decides what enters its log: raw entries would
        // bypass validation and could forge ticks (moving log time). Propose
        // serves the hash-chain test machine (Raft tests, bench-raft) only.
        if (rc !== null) throw new GrpcError(status.UNIMPLEMENTED, PROPOSE_CLOSED);
        const payload = call.request.payload;
        if (payload.length === 0) throw new GrpcError(status.INVALID_ARGUMENT, "payload is empty");
        if (payload.length > limits.maxPayloadBytes) {
          throw new GrpcError(
            status.RESOURCE_EXHAUSTED,
            `payload of ${payload.length} bytes is over the limit of ${limits.maxPayloadBytes}`,
          );
        }
        const res = await limited(() => control.propose(payload));
        return { index: res.index, term: res.term, result: Buffer.from(res.result) };
      }),
    getStatus: (call, callback) => answer(call, callback, () => Promise.resolve(control.status())),
    addMember: (call, callback) =>
      answer(call, callback, () => control.changeMembership("addLearner", requireId(call.request.id))),
    promoteMember: (call, callback) =>
      answer(call, callback, () =>
        control.changeMembership("promote", requireId(call.request.id), call.request.force),
      ),
    removeMember: (call, callback) =>
      answer(call, callback, () =>
        control.changeMembership("remove", requireId(call.request.id), call.request.force),
      ),
    transferLeadership: (call, callback) =>
      answer(call, callback, () => {
        const target = call.request.targetId === "" ? null : requireId(call.request.targetId, "target_id");
        return control.transferLeadership(target);
      }),
    submitEvents: (call, callback) =>
      answer(call, callback, () =>
        limited(() => submitEvents(control, requireRc(rc), call.request, rcLimits)),
      ),
    getGraph: (call, callback) =>
      answer(call, callback, () => read(call.request, () => getGraph(control, requireRc(rc), call.request))),
    getEpoch: (call, callback) =>
      answer(call, callback, () => read(call.request, () => getEpoch(requireRc(rc)))),
    getOutbox: (call, callback) =>
      answer(call, callback, () => read(call.request, () => getOutbox(requireRc(rc)))),
    getRules: (call, callback) =>
      answer(call, callback, () => read(call.request, () => getRules(requireRc(rc).machine))),
    changeRules: (call, callback) =>
      answer(call, callback, () => limited(() => changeRules(control, requireRc(rc), call.request))),
    getHistory: (call, callback) =>
      answer(call, callback, () =>
        read(call.request, () => getHistory(control.id, requireRc(rc), call.request)),
      ),
    explain: (call, callback) =>
      answer(call, callback, () =>
        read(call.request, () => explain(control.id, requireRc(rc), call.request)),
      ),
    renewSession: (call, callback) =>
      answer(call, callback, () => Promise.resolve(renewSession(control, requireRc(rc), call.request))),
    watchGraph: (call) => {
      if (!rc) {
        call.emit("error", toServiceError(requireRcError()));
        return;
      }
      watchGraph(rc, call, rcLimits);
    },
  };
}

function requireRcError(): unknown {
  try {
    requireRc(null);
  } catch (err) {
    return err;
  }
  return null;
}

function mapError(control: ReplicaControl, err: unknown): { error: unknown; leaderAddress?: string } {
  if (err instanceof NotLeaderError) {
    const address = err.leader === null ? null : control.addressOf(err.leader);
    const where =
      err.leader === null
        ? "no leader is known yet; retry shortly"
        : `the leader is ${err.leader} at ${address ?? "an address not in this replica's cluster config"}`;
    return {
      error: new GrpcError(status.FAILED_PRECONDITION, `${control.id} is not the leader; ${where}`),
      leaderAddress: address ?? undefined,
    };
  }
  if (err instanceof ProposalDroppedError || err instanceof RaftStoppedError) {
    return { error: new GrpcError(status.UNAVAILABLE, err.message) };
  }
  if (err instanceof LeadershipLostError) {
    // The entry may still commit under the next leader: the client must not assume either outcome.
    return {
      error: new GrpcError(status.UNAVAILABLE, `${err.message}; retrying may apply the payload twice`),
    };
  }
  return { error: err };
}
