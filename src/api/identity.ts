// Who is calling: every party of a cluster has a certificate from the cluster's
// CA whose URI SAN names it, spiffe://<cluster>/<role>/<name>. The role decides
// what the caller may do (docs/security.md); the name is a replica or node id,
// or an operator's or reader's name. With --insecure there are no certificates,
// and every caller may do everything: that mode is for loopback only.
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { ClusterConfig } from "../config/index.js";
import { GrpcError } from "./grpc-errors.js";
import type { CertificateFiles } from "../raft/transport/reloadable-certificates.js";
import type { InboundCall } from "../raft/transport/tls.js";

// "infra": a server of halon.v1.InfraService (node respawn), called by the replicas only.
export const ROLES = ["replica", "node", "operator", "reader", "infra"] as const;
export type Role = (typeof ROLES)[number];

export interface Identity {
  cluster: string;
  role: Role;
  name: string;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function identityUri(id: Identity): string {
  return `spiffe://${id.cluster}/${id.role}/${id.name}`;
}

/** Parses spiffe://<cluster>/<role>/<name>; null for anything else. */
export function parseIdentityUri(uri: string): Identity | null {
  const m = /^spiffe:\/\/([^/]+)\/([a-z]+)\/([^/]+)$/.exec(uri);
  if (!m) return null;
  const [, cluster, role, name] = m as unknown as [string, string, string, string];
  if (!NAME.test(cluster) || !NAME.test(name)) return null;
  const known = ROLES.find((r) => r === role);
  return known ? { cluster, role: known, name } : null;
}

/** The spiffe URIs in a peer certificate's subjectAltName text ("URI:..., IP Address:..."). */
export function spiffeUris(subjectAltName: string | undefined): string[] {
  if (!subjectAltName) return [];
  return subjectAltName
    .split(", ")
    .filter((part) => part.startsWith("URI:spiffe://"))
    .map((part) => part.slice("URI:".length));
}

/** Something that can tell its TLS peer: a grpc-js server call. */
export type HasAuthContext = Pick<InboundCall, "getAuthContext">;

/**
 * The caller's identity, or "insecure" when the connection is plain TCP
 * (only possible on a server started with --insecure). Throws UNAUTHENTICATED
 * when the certificate names no identity of this cluster.
 */
export function callerOf(call: HasAuthContext, cluster: string): Identity | "insecure" {
  const auth = call.getAuthContext();
  if (!auth || auth.transportSecurityType !== "ssl") return "insecure";
  const cert = auth.sslPeerCertificate;
  if (!cert || Object.keys(cert).length === 0)
    throw new GrpcError(status.UNAUTHENTICATED, "no client certificate: mutual TLS is required");
  const ids = spiffeUris(cert.subjectaltname).map(parseIdentityUri);
  const mine = ids.filter((i): i is Identity => i !== null && i.cluster === cluster);
  if (mine.length !== 1) {
    throw new GrpcError(
      status.UNAUTHENTICATED,
      mine.length === 0
        ? `the client certificate names no identity of cluster "${cluster}" (a URI SAN spiffe://${cluster}/<role>/<name>)`
        : "the client certificate names more than one identity",
    );
  }
  return mine[0]!;
}

export function describe(caller: Identity | "insecure"): string {
  return caller === "insecure" ? "an insecure caller" : `${caller.role} "${caller.name}"`;
}

/** Where `halon certs` puts the files of one identity, inside the config's certsDir. */
export function identityFiles(config: ClusterConfig, role: Role, name: string): CertificateFiles {
  const dir = config.security.certsDir;
  return {
    ca: join(dir, "ca.pem"),
    cert: join(dir, `${role}-${name}.pem`),
    key: join(dir, `${role}-${name}-key.pem`),
  };
}
