// Channel and server credentials for the peer service: plain TCP, or TLS with
// mutual authentication when certificates are given (both sides present a
// certificate signed by the cluster's CA, and both check the other's).
import { ChannelCredentials, ServerCredentials } from "@grpc/grpc-js";

export interface TlsMaterial {
  /** PEM of the CA that signs every replica's certificate. */
  ca: Buffer;
  /** PEM certificate chain of this replica. */
  cert: Buffer;
  /** PEM private key of this replica. */
  key: Buffer;
}

export function serverCredentials(tls?: TlsMaterial): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  // true: refuse a client without a certificate signed by the CA (mutual TLS).
  return ServerCredentials.createSsl(tls.ca, [{ private_key: tls.key, cert_chain: tls.cert }], true);
}

export function channelCredentials(tls?: TlsMaterial): ChannelCredentials {
  if (!tls) return ChannelCredentials.createInsecure();
  return ChannelCredentials.createSsl(tls.ca, tls.key, tls.cert);
}
