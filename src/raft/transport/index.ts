export {
  GrpcTransport,
  PEER_MESSAGE_LIMIT,
  type GrpcTransportOptions,
  type PeerAuthenticator,
  type ReceivedSnapshot,
  type TransportLogger,
} from "./grpc-transport.js";
export { RaftGrpcTransport, type RaftGrpcTransportOptions } from "./driver-transport.js";
export { fromWire, snapshotFromWire, snapshotMetaToWire, toWire } from "./message-codec.js";
export { SnapshotAssembler, SnapshotTransferError, chunkSnapshot } from "./snapshot-chunks.js";
export {
  ReloadableCertificates,
  type CertificateFiles,
  type ReloadOptions,
} from "./reloadable-certificates.js";
export {
  channelCredentials,
  secureChannel,
  serverCredentials,
  type CheckServerIdentityCallback,
  type InboundCall,
  type TlsMaterial,
  type TlsSource,
} from "./tls.js";
