// How a process of the cluster gets its transport security: its own
// certificate from the config's certsDir (watched for rotation), or, only when
// asked with --insecure and only on loopback addresses, none at all.
import type { ClusterConfig } from "../config/index.js";
import { ReloadableCertificates } from "../raft/transport/reloadable-certificates.js";
import { identityFiles, type Role } from "./identity.js";

export class SecuritySetupError extends Error {
  override name = "SecuritySetupError";
}

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])$/;

export function isLoopback(address: string): boolean {
  return LOOPBACK.test(address.slice(0, address.lastIndexOf(":")));
}

/** Plain TCP is refused on any address that is not loopback. */
export function assertInsecureAllowed(addresses: string[]): void {
  const open = addresses.filter((a) => !isLoopback(a));
  if (open.length > 0)
    throw new SecuritySetupError(
      `--insecure (plain TCP) is only allowed on loopback addresses, not on ${open.join(", ")}: ` +
        "run 'halon certs' and drop --insecure",
    );
}

export interface SecurityOptions {
  /** Plain TCP, explicitly asked for. */
  insecure: boolean;
  /** Overrides of the certificate and key files (the CA stays the config's). */
  certFile?: string;
  keyFile?: string;
  onReloadError?: (message: string) => void;
  onReload?: () => void;
}

/**
 * The certificates of `role`/`name`, watched for rotation; undefined in
 * insecure mode. Throws SecuritySetupError naming the missing file and the
 * command that makes it.
 */
export function loadSecurity(
  config: ClusterConfig,
  role: Role,
  name: string,
  addresses: string[],
  opts: SecurityOptions,
): ReloadableCertificates | undefined {
  if (opts.insecure) {
    assertInsecureAllowed(addresses);
    return undefined;
  }
  const files = identityFiles(config, role, name);
  if (opts.certFile) files.cert = opts.certFile;
  if (opts.keyFile) files.key = opts.keyFile;
  try {
    return new ReloadableCertificates(files, {
      checkEveryMs: config.security.reloadCheckMs,
      onError: opts.onReloadError,
      onReload: opts.onReload,
    });
  } catch (err) {
    throw new SecuritySetupError(
      `no usable certificate for ${role} "${name}": ${(err as Error).message}. ` +
        `Create the cluster's certificates with 'halon certs --config FILE' (or run with --insecure on loopback)`,
      { cause: err },
    );
  }
}
