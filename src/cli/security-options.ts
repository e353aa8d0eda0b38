// The options every command that talks to a cluster shares: whose certificate
// to present (an operator's by default, found in the config's certsDir), or
// --insecure for a cluster started that way on loopback.
import type { Command } from "commander";
import { ROLES, type Role } from "../api/identity.js";
import { loadSecurity } from "../api/security-setup.js";
import type { ClusterConfig } from "../config/index.js";
import type { ReloadableCertificates } from "../raft/transport/reloadable-certificates.js";

export interface ClientSecurityOptions {
  insecure?: boolean;
  /** role/name, e.g. operator/admin or reader/viewer. */
  identity: string;
  cert?: string;
  key?: string;
}

export const DEFAULT_CLIENT_IDENTITY = "operator/admin";

/** Adds --identity, --cert, --key and --insecure to a command. */
export function withClientSecurity(cmd: Command): Command {
  return cmd
    .option(
      "--identity <role/name>",
      "whose certificate to present, from the config's certsDir (operator/NAME or reader/NAME)",
      DEFAULT_CLIENT_IDENTITY,
    )
    .option("--cert <file>", "present this certificate instead (PEM; needs --key)")
    .option("--key <file>", "the private key of --cert")
    .option("--insecure", "plain TCP, for a cluster started with --insecure (loopback only)");
}

/** The client's TLS material; throws a message that says what to do when it is missing. */
export function clientTls(
  config: ClusterConfig,
  opts: ClientSecurityOptions,
): ReloadableCertificates | undefined {
  const [role, name] = opts.identity.split("/") as [string, string | undefined];
  const known = ROLES.find((r) => r === role);
  if (!known || !name)
    throw new Error(`--identity: "${opts.identity}" is not ROLE/NAME (roles: ${ROLES.join(", ")})`);
  if ((opts.cert === undefined) !== (opts.key === undefined)) throw new Error("--cert and --key go together");
  return loadSecurity(
    config,
    known as Role,
    name,
    config.replicas.map((r) => r.grpcAddress),
    {
      insecure: opts.insecure === true,
      certFile: opts.cert,
      keyFile: opts.key,
    },
  );
}
