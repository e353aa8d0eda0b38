// Who may speak Raft to this replica: only a replica of this cluster, by its
// certificate, that is in the current membership. A replica still joining
// (started with --join, its membership empty until the leader's first message)
// accepts the replicas of the cluster config. The transport then checks that
// every message's `from` is that replica.
import { status } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import type { PeerAuthenticator } from "../raft/transport/grpc-transport.js";
import type { CheckServerIdentityCallback, InboundCall } from "../raft/transport/tls.js";
import type { GrpcError } from "./grpc-errors.js";
import { callerOf, describe, parseIdentityUri, spiffeUris } from "./identity.js";

export interface PeerAuthzContext {
  cluster: string;
  /** Voters, learners and outgoing voters as this replica knows them now. */
  members(): string[];
  /** Replicas of the cluster config. */
  configured(): string[];
}

export function peerAuthenticator(ctx: PeerAuthzContext): PeerAuthenticator {
  return (call: InboundCall) => {
    let caller;
    try {
      caller = callerOf(call, ctx.cluster);
    } catch (err) {
      const e = err as GrpcError;
      return { refuse: { code: e.code, details: `Raft peer service: ${e.details}` } };
    }
    if (caller === "insecure") return null;
    if (caller.role !== "replica")
      return {
        refuse: {
          code: status.PERMISSION_DENIED,
          details: `Raft peer service: ${describe(caller)} is not a replica; only replicas may speak Raft`,
        },
      };
    const members = ctx.members();
    const allowed = members.length > 0 ? members : ctx.configured();
    if (!allowed.includes(caller.name))
      return {
        refuse: {
          code: status.PERMISSION_DENIED,
          details: `Raft peer service: replica "${caller.name}" is not a member (members: ${allowed.join(", ") || "none"})`,
        },
      };
    return { peerId: caller.name };
  };
}

/** For outbound calls: the server reached as `peerId` must hold that replica's certificate. */
export function expectReplica(cluster: string, peerId: string): CheckServerIdentityCallback {
  return (_host: string, cert: PeerCertificate) => {
    const ids = spiffeUris(cert.subjectaltname).map(parseIdentityUri);
    const ok = ids.some((i) => i?.cluster === cluster && i.role === "replica" && i.name === peerId);
    return ok
      ? undefined
      : new Error(`the server at this address is not replica "${peerId}" of "${cluster}"`);
  };
}

/** Likewise for a node service. */
export function expectNode(cluster: string, nodeId: string): CheckServerIdentityCallback {
  return (_host: string, cert: PeerCertificate) => {
    const ids = spiffeUris(cert.subjectaltname).map(parseIdentityUri);
    const ok = ids.some((i) => i?.cluster === cluster && i.role === "node" && i.name === nodeId);
    return ok
      ? undefined
      : new Error(`the server at this address is not node service "${nodeId}" of "${cluster}"`);
  };
}
