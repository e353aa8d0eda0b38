// The leader's side of node sessions (docs/node.md, "Liveness"): a node
// service renews its session every heartbeat interval with RenewSession; the
// leader counts that as a sign of life for its failure detector (the same
// "heard from node X now" as any event the node sends) and answers with its
// term and what the graph says of the node. Nothing enters the log: the node
// itself submits a NodeHeartbeat event only when the answer shows the graph
// behind (not online, or an older acknowledged epoch), and the leader proposes
// NodeSilent only when a node stops renewing. A follower refuses with
// FAILED_PRECONDITION naming the leader (the client follows it).
import { status } from "@grpc/grpc-js";
import type { RenewSessionRequest, RenewSessionResponse } from "../gen/halon/v1/client.js";
import { ReplicaRole } from "../gen/halon/v1/client.js";
import { NotLeaderError } from "../raft/core/errors.js";
import { GrpcError, quote } from "./grpc-errors.js";
import type { RcAccess } from "./rc-service.js";
import type { ReplicaControl } from "./replica-control.js";

const ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function renewSession(
  control: ReplicaControl,
  rc: RcAccess,
  req: RenewSessionRequest,
): RenewSessionResponse {
  const s = control.status();
  if (s.role !== ReplicaRole.REPLICA_ROLE_LEADER)
    throw new NotLeaderError(s.leaderId === "" ? null : s.leaderId);
  if (!ID.test(req.nodeId))
    throw new GrpcError(status.INVALID_ARGUMENT, `node_id: ${quote(req.nodeId)} is not a node id`);
  const graph = rc.machine.graph;
  if (graph.kindOf(req.nodeId) !== "Node")
    throw new GrpcError(
      status.NOT_FOUND,
      `node_id: no node ${quote(req.nodeId)} in the graph yet: a node service joins (NodeJoined) before its session`,
    );
  // Off the log: the leader's failure detector hears the node, nothing is proposed.
  rc.heardFrom(req.nodeId);
  const state = graph.attr(req.nodeId, "state");
  const acked = graph.attr(req.nodeId, "ackedEpoch");
  return {
    term: s.term,
    leaderId: control.id,
    nodeState: typeof state === "string" ? state : "",
    ackedEpoch: typeof acked === "number" ? acked : 0,
  };
}
