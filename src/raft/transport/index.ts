export { Backoff, type BackoffOptions } from "./backoff.js";
export {
  GrpcTransport,
  type GrpcTransportOptions,
  type ReceivedSnapshot,
  type TransportLogger,
} from "./grpc-transport.js";
export { RaftGrpcTransport, type RaftGrpcTransportOptions } from "./driver-transport.js";
export { fromWire, snapshotFromWire, snapshotMetaToWire, toWire } from "./message-codec.js";
export { SnapshotAssembler, SnapshotTransferError, chunkSnapshot } from "./snapshot-chunks.js";
export { channelCredentials, serverCredentials, type TlsMaterial } from "./tls.js";
