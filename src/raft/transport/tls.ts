// Channel and server credentials: plain TCP, or mutual TLS (both sides present
// a certificate signed by the cluster's CA, and both check the other's). The
// material is either fixed bytes or a ReloadableCertificates, whose files can
// be replaced while the process runs: new connections use the new ones.
import type { PeerCertificate } from "node:tls";
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
