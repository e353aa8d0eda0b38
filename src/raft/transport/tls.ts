// Channel and server credentials: plain TCP, or mutual TLS (both sides present
// a certificate signed by the cluster's CA, and both check the other's). The
// material is either fixed bytes or a ReloadableCertificates, whose files can
// be replaced while the process runs: new connections use the new ones.
import { isIP } from "node:net";
import { checkServerIdentity as checkHostName, type PeerCertificate } from "node:tls";
import { ChannelCredentials, ServerCredentials, experimental } from "@grpc/grpc-js";
import { ReloadableCertificates } from "./reloadable-certificates.js";

/** Checks the server's certificate after the host-name check; an Error refuses the server. */
export type CheckServerIdentityCallback = (hostname: string, cert: PeerCertificate) => Error | undefined;

/** What a server-side call tells of its connection (grpc-js's ServerSurfaceCall has these). */
export interface InboundCall {
  getPeer(): string;
  getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } | null;
}

export interface TlsMaterial {
  /** PEM of the CA that signs every party's certificate. */
  ca: Buffer;
  /** PEM certificate chain of this party. */
  cert: Buffer;
  /** PEM private key of this party. */
  key: Buffer;
}

/** Fixed material, or files watched for rotation. */
export type TlsSource = TlsMaterial | ReloadableCertificates;

/** No source: plain TCP (the caller has checked that this was asked for explicitly). */
export function serverCredentials(tls?: TlsSource): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  if (tls instanceof ReloadableCertificates) {
    // true: refuse a client without a certificate signed by the CA (mutual TLS).
    return experimental.createCertificateProviderServerCredentials(tls, tls, true);
  }
  return ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
}

/**
 * @param checkServerIdentity called after the usual host-name check, to also
 *   check who the server is (return an Error to refuse it).
 */
export function channelCredentials(
  tls?: TlsSource,
  checkServerIdentity?: CheckServerIdentityCallback,
): ChannelCredentials {
  if (!tls) return ChannelCredentials.createInsecure();
  const verify = checkServerIdentity ? { checkServerIdentity } : undefined;
  if (tls instanceof ReloadableCertificates) {
    return experimental.createCertificateProviderChannelCredentials(tls, tls, verify);
  }
  return ChannelCredentials.createSsl(tls.ca, tls.key, tls.cert, verify);
}

/**
 * Credentials and channel options for a client of `address` ("host:port").
 * The server's certificate must name the host (as usual), then pass `check`.
 * For an IP address, the TLS server name sent is a fixed word instead of the
 * IP (Node deprecates an IP there, and prints a warning on every connection);
 * the certificate is still checked against the IP.
 */
export function secureChannel(
  tls: TlsSource | undefined,
  address: string,
  check?: CheckServerIdentityCallback,
): { credentials: ChannelCredentials; options: Record<string, string> } {
  if (!tls) return { credentials: ChannelCredentials.createInsecure(), options: {} };
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  const verify: CheckServerIdentityCallback = (_servername, cert) =>
    checkHostName(host, cert) ?? check?.(host, cert);
  return {
    credentials: channelCredentials(tls, verify),
    options: isIP(host) ? { "grpc.ssl_target_name_override": "halon" } : {},
  };
}
