// Raft's network: the RaftPeerService on grpc-js. One PeerStream per peer for
// outbound messages; the service implementation for inbound ones, which the
// replica's gRPC server mounts. Snapshots travel on their own call, in chunks.
//
// It moves halon.v1.RaftMessage values and knows nothing of what they mean;
// message-codec.ts converts to and from the core's messages.
import { status, type ServerErrorResponse, type ServiceError } from "@grpc/grpc-js";
import {
  RaftPeerServiceClient,
  RaftPeerServiceService,
  type InstallSnapshotResponse,
  type RaftMessage,
  type RaftMessageBatch,
  type RaftPeerServiceServer,
  type SnapshotChunk,
  type SnapshotMeta,
} from "../../gen/halon/v1/raft.js";
import type { BackoffPolicy } from "../../util/backoff.js";
import { PeerStream } from "./peer-stream.js";
import { SnapshotAssembler, SnapshotTransferError, chunkSnapshot } from "./snapshot-chunks.js";
import { secureChannel, type CheckServerIdentityCallback, type InboundCall, type TlsSource } from "./tls.js";

export interface ReceivedSnapshot {
  /** The RAFT_MESSAGE_TYPE_SNAPSHOT message the sender's core produced (without the payload). */
  header: RaftMessage;
  meta: SnapshotMeta;
  data: Uint8Array;
}

export interface TransportLogger {
  warn(details: Record<string, unknown>, message: string): void;
  debug(details: Record<string, unknown>, message: string): void;
}

/**
 * Who is on the other end of an inbound call: the peer's id when the
 * connection proves it, a refusal, or null on an unauthenticated transport
 * (plain TCP on loopback, explicitly asked for), where messages are taken at
 * their word.
 */
export type PeerAuthenticator = (
  call: InboundCall,
) => { peerId: string } | { refuse: { code: status; details: string } } | null;

export interface GrpcTransportOptions {
  selfId: string;
  /** Peer id → host:port. Change later with setPeers. */
  peers: Record<string, string>;
  tls?: TlsSource;
  /** Checked on every inbound stream batch and snapshot, before anything is kept. */
  authenticate?: PeerAuthenticator;
  /** Checks that the server reached as peer `peerId` is that peer (an Error refuses it). */
  verifyPeerServer?: (peerId: string) => CheckServerIdentityCallback;
  /** Every message that arrives for this replica, in arrival order per sender. */
  onMessages: (messages: RaftMessage[]) => void;
  /** A complete, verified snapshot; the answer goes back to the sender. */
  onSnapshot: (snapshot: ReceivedSnapshot) => Promise<{ term: number; accepted: boolean; error?: string }>;
  /** A peer's stream broke or dropped messages (etcd's ReportUnreachable). */
  onUnreachable?: (peerId: string) => void;
  logger?: TransportLogger;
  maxFrameBytes?: number;
  maxQueuedMessages?: number;
  snapshotChunkBytes?: number;
  maxSnapshotBytes?: number;
  /** Snapshots being received at once (one per peer at most). */
  maxConcurrentSnapshots?: number;
  /** Pacing of reconnects to a peer (jittered). */
  backoff?: BackoffPolicy;
}

const DEFAULTS = {
  maxFrameBytes: 4 * 1024 * 1024,
  maxQueuedMessages: 10_000,
  snapshotChunkBytes: 256 * 1024,
  maxSnapshotBytes: 256 * 1024 * 1024,
  maxConcurrentSnapshots: 2,
  backoff: { baseMs: 50, factor: 2, maxMs: 1_000 },
};

/**
 * The largest message of the peer service: a frame is at most maxFrameBytes
 * (the replica sets it from raft.maxBytesPerMessage), plus one entry that may
 * be larger alone; snapshot chunks are far smaller. Only replicas that proved
 * who they are reach this limit: the client API has its own, much lower one.
 */
export const PEER_MESSAGE_LIMIT = 64 * 1024 * 1024;

export class GrpcTransport {
  private readonly streams = new Map<string, PeerStream>();
  private addresses = new Map<string, string>();
  private readonly settings: typeof DEFAULTS;
  private closed = false;
  /** Peers whose snapshot is being received now. */
  private readonly receiving = new Set<string>();

  constructor(private readonly options: GrpcTransportOptions) {
    this.settings = {
      maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes,
      maxQueuedMessages: options.maxQueuedMessages ?? DEFAULTS.maxQueuedMessages,
      snapshotChunkBytes: options.snapshotChunkBytes ?? DEFAULTS.snapshotChunkBytes,
      maxSnapshotBytes: options.maxSnapshotBytes ?? DEFAULTS.maxSnapshotBytes,
      maxConcurrentSnapshots: options.maxConcurrentSnapshots ?? DEFAULTS.maxConcurrentSnapshots,
      backoff: options.backoff ?? DEFAULTS.backoff,
    };
    this.setPeers(options.peers);
  }

  /** The service definition and implementation to add to a grpc-js Server. */
  get service(): { definition: typeof RaftPeerServiceService; implementation: RaftPeerServiceServer } {
    return { definition: RaftPeerServiceService, implementation: this.serverImplementation() };
  }

  /** Grpc channel options for a server that mounts this service (frame size limits). */
  static serverOptions(): Record<string, number> {
    return { "grpc.max_receive_message_length": PEER_MESSAGE_LIMIT };
  }

  /** Replaces the peer list (membership changes); streams to removed or moved peers are closed. */
  setPeers(peers: Record<string, string>): void {
    const next = new Map(Object.entries(peers).filter(([id]) => id !== this.options.selfId));
    for (const [id, stream] of this.streams) {
      if (next.get(id) !== this.addresses.get(id)) {
        stream.close();
        this.streams.delete(id);
      }
    }
    this.addresses = next;
  }

  /** Queues messages for their peers; never blocks, never throws for an unknown or unreachable peer. */
  send(messages: RaftMessage[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const stream = this.streamTo(message.to);
      if (stream) stream.send(message);
      else this.options.logger?.debug({ to: message.to }, "dropping a message for an unknown peer");
    }
  }

  /** Streams a snapshot to a peer in chunks and resolves with its answer. */
  sendSnapshot(
    to: string,
    header: RaftMessage,
    meta: Omit<SnapshotMeta, "size" | "checksum">,
    data: Uint8Array,
  ): Promise<InstallSnapshotResponse> {
    const address = this.addresses.get(to);
    if (!address || this.closed) return Promise.reject(new Error(`no address for peer ${to}`));
    const client = this.newClient(address, to);
    return new Promise<InstallSnapshotResponse>((resolve, reject) => {
      // Generous: a snapshot is large and the peer writes it to disk.
      const deadline = Date.now() + 60_000 + data.length / 1_000;
      const call = client.installSnapshot(
        { deadline },
        (err: ServiceError | null, response?: InstallSnapshotResponse) => {
          client.close();
          if (err) reject(err);
          else resolve(response!);
        },
      );
      call.on("error", () => undefined); // reported through the callback
      const chunks = chunkSnapshot(header, meta, data, this.settings.snapshotChunkBytes);
      // Write with backpressure, so at most a few chunks are in flight in grpc-js's buffers.
      const pump = (): void => {
        for (let next = chunks.next(); !next.done; next = chunks.next()) {
          if (!call.write(next.value)) {
            call.once("drain", pump);
            return;
          }
        }
        call.end();
      };
      pump();
    });
  }

  close(): void {
    this.closed = true;
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }

  /** Counters per peer, for status pages and tests. */
  stats(): Record<string, PeerStream["stats"]> {
    return Object.fromEntries([...this.streams].map(([id, s]) => [id, { ...s.stats }]));
  }

  private streamTo(peerId: string): PeerStream | undefined {
    let stream = this.streams.get(peerId);
    if (stream) return stream;
    const address = this.addresses.get(peerId);
    if (!address) return undefined;
    stream = new PeerStream({
      peerId,
      client: this.newClient(address, peerId),
      maxFrameBytes: this.settings.maxFrameBytes,
      maxQueuedMessages: this.settings.maxQueuedMessages,
      backoff: this.settings.backoff,
      onUnreachable: (id, reason) => {
        this.options.logger?.debug({ peer: id, reason }, "peer unreachable");
        this.options.onUnreachable?.(id);
      },
    });
    this.streams.set(peerId, stream);
    return stream;
  }

  private newClient(address: string, peerId: string): RaftPeerServiceClient {
    const secure = secureChannel(this.options.tls, address, this.options.verifyPeerServer?.(peerId));
    return new RaftPeerServiceClient(address, secure.credentials, {
      ...secure.options,
      "grpc.max_send_message_length": PEER_MESSAGE_LIMIT,
      "grpc.max_receive_message_length": PEER_MESSAGE_LIMIT,
      // Find a dead peer behind a silent network, not only one that closed its socket.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      // Reconnection is paced by PeerStream's own backoff.
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": 1_000,
    });
  }

  private authenticate(call: InboundCall) {
    return authenticateWith(this.options.authenticate, call);
  }

  private serverImplementation(): RaftPeerServiceServer {
    return {
      stream: (call, callback) => {
        let received = 0;
        let failed = false;
        const refuse = (code: status, details: string) => {
          failed = true;
          callback(fail(code, details));
        };
        const first = this.authenticate(call);
        if ("refuse" in first) {
          refuse(first.refuse.code, first.refuse.details);
          return;
        }
        call.on("data", (batch: RaftMessageBatch) => {
          if (failed) return;
          // Again for every batch: a peer removed from the membership loses its stream.
          const auth = this.authenticate(call);
          if ("refuse" in auth) return refuse(auth.refuse.code, auth.refuse.details);
          const forged =
            auth.peerId === null ? undefined : batch.messages.find((m) => m.from !== auth.peerId);
          if (forged)
            return refuse(
              status.PERMISSION_DENIED,
              `replica "${auth.peerId}" sent a message from "${forged.from}": a replica speaks only for itself`,
            );
          const wrong = batch.messages.find((m) => m.to !== this.options.selfId);
          if (wrong) {
            failed = true;
            callback(
              fail(
                status.FAILED_PRECONDITION,
                `this replica is "${this.options.selfId}", not "${wrong.to}": check the peer addresses in the cluster config`,
              ),
            );
            return;
          }
          received += batch.messages.length;
          try {
            this.options.onMessages(batch.messages);
          } catch (err) {
            // The core rejected a message it could not make sense of; keep the stream and the replica alive.
            this.options.logger?.warn({ err: String(err) }, "a received message could not be handled");
          }
        });
        call.on("end", () => {
          if (!failed) callback(null, { received });
        });
        call.on("error", () => undefined); // the peer went away; its PeerStream reconnects
      },
      installSnapshot: (call, callback) => {
        // Who sends is checked before a single chunk is read.
        const auth = this.authenticate(call);
        if ("refuse" in auth) {
          callback(fail(auth.refuse.code, auth.refuse.details));
          return;
        }
        const slot = auth.peerId ?? call.getPeer();
        if (this.receiving.has(slot) || this.receiving.size >= this.settings.maxConcurrentSnapshots) {
          callback(
            fail(
              status.RESOURCE_EXHAUSTED,
              `already receiving ${this.receiving.size} snapshot(s) (at most ${this.settings.maxConcurrentSnapshots}, one per peer); retry later`,
            ),
          );
          return;
        }
        this.receiving.add(slot);
        const assembler = new SnapshotAssembler(this.settings.maxSnapshotBytes);
        let finished = false;
        let complete = false;
        const finish = (err: ServerErrorResponse | null, response?: InstallSnapshotResponse) => {
          if (finished) return;
          finished = true;
          this.receiving.delete(slot);
          if (err) callback(err);
          else callback(null, response);
        };
        call.on("data", (chunk: SnapshotChunk) => {
          if (finished) return;
          if (chunk.header && auth.peerId !== null && chunk.header.from !== auth.peerId) {
            finish(
              fail(
                status.PERMISSION_DENIED,
                `replica "${auth.peerId}" sent a snapshot from "${chunk.header.from}": a replica speaks only for itself`,
              ),
            );
            return;
          }
          try {
            if (!assembler.add(chunk)) return;
            complete = true;
          } catch (err) {
            if (err instanceof SnapshotTransferError) finish(fail(status[err.kind], err.message));
            else finish(fail(status.INTERNAL, String(err)));
            return;
          }
          this.options.onSnapshot(assembler.result()).then(
            (answer) =>
              finish(null, { term: answer.term, accepted: answer.accepted, error: answer.error ?? "" }),
            (err: unknown) => finish(fail(status.INTERNAL, `snapshot not installed: ${String(err)}`)),
          );
        });
        call.on("end", () => {
          if (!complete) finish(fail(status.INVALID_ARGUMENT, "the stream ended before the last chunk"));
        });
        call.on("error", () => undefined);
        call.on("cancelled", () => finish(fail(status.CANCELLED, "the sender cancelled")));
      },
    };
  }
}

/** The outcome of the authenticator; no authenticator means an unauthenticated transport. */
function authenticateWith(
  authenticate: PeerAuthenticator | undefined,
  call: InboundCall,
): { peerId: string | null } | { refuse: { code: status; details: string } } {
  const result = authenticate ? authenticate(call) : null;
  return result ?? { peerId: null };
}

function fail(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details });
}
