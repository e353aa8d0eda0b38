// The gRPC servers of one replica, on two listeners with limits that fit their
// traffic: the client API (client service, standard health checking and server
// reflection, so grpcurl and grpc_health_probe work) on grpcAddress, and the
// Raft peer service on peerAddress, where only replicas are let in. Both use
// mutual TLS unless the replica runs with --insecure.
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Server, type UntypedServiceImplementation, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { HalonServiceService, type HalonServiceServer } from "../gen/halon/v1/client.js";
import { serverCredentials, type TlsSource } from "../raft/transport/tls.js";
import { guardHandlers, guardService } from "./request-guard.js";

export const HALON_SERVICE_NAME = "halon.v1.HalonService";

export interface ReplicaServerOptions {
  /** The client API's host:port; port 0 picks a free one. */
  address: string;
  /** The Raft peer service's host:port. */
  peerAddress: string;
  /** Undefined: plain TCP (--insecure). */
  tls?: TlsSource;
  halon: HalonServiceServer;
  /** The Raft peer service from GrpcTransport.service. */
  peer: { definition: ServiceDefinition; implementation: UntypedServiceImplementation };
  /** Channel options of the peer listener (its message size limit). */
  peerOptions?: Record<string, number>;
  /** Channel options of the client listener. */
  clientOptions?: Record<string, number>;
}

/**
 * The client listener's limits: a SubmitEvents batch is at most 1 MiB encoded,
 * so 4 MiB leaves room and refuses anything larger before it is buffered; a
 * connection may hold at most 64 calls at once.
 */
export const CLIENT_LISTENER_OPTIONS: Record<string, number> = {
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_concurrent_streams": 64,
};

export class ReplicaServer {
  readonly health = new HealthImplementation({ "": "NOT_SERVING", [HALON_SERVICE_NAME]: "NOT_SERVING" });
  private readonly server: Server;
  private readonly peerServer: Server;
  private boundPort = 0;
  private boundPeerPort = 0;

  constructor(private readonly opts: ReplicaServerOptions) {
    this.server = new Server({ ...CLIENT_LISTENER_OPTIONS, ...opts.clientOptions });
    // Requests that do not decode get INVALID_ARGUMENT naming the field (see request-guard.ts).
    this.server.addService(guardService(HalonServiceService), guardHandlers(HalonServiceService, opts.halon));
    this.health.addToServer(this.server);
    const protos = reflectionDefinition();
    if (protos) new ReflectionService(protos).addToServer(this.server);
    this.peerServer = new Server(opts.peerOptions);
    this.peerServer.addService(opts.peer.definition, opts.peer.implementation);
  }

  /** Binds both listeners and starts serving; resolves with the client port actually bound. */
  async start(): Promise<number> {
    // One credentials object per server: grpc-js's certificate-provider credentials belong to one.
    this.boundPeerPort = await bind(this.peerServer, this.opts.peerAddress, serverCredentials(this.opts.tls));
    try {
      this.boundPort = await bind(this.server, this.opts.address, serverCredentials(this.opts.tls));
    } catch (err) {
      this.peerServer.forceShutdown();
      throw err;
    }
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  get peerPort(): number {
    return this.boundPeerPort;
  }

  /** Marks the replica as serving (or not) for health checks. */
  setServing(serving: boolean): void {
    const value = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", value);
    this.health.setStatus(HALON_SERVICE_NAME, value);
  }

  /** Lets calls under way finish for up to graceMs, then cuts the rest. */
  async stop(graceMs = 500): Promise<void> {
    await Promise.all([shutdown(this.server, graceMs), shutdown(this.peerServer, graceMs)]);
  }
}

function bind(
  server: Server,
  address: string,
  credentials: ReturnType<typeof serverCredentials>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (err) reject(new Error(`cannot listen on ${address}: ${err.message}`));
      else resolve(port);
    });
  });
}

function shutdown(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The .proto files, for reflection; null when they are not shipped next to the code. */
function reflectionDefinition(): ReturnType<typeof loadSync> | null {
  // src/api and dist/api both sit two levels below the package root.
  const root = fileURLToPath(new URL("../../proto", import.meta.url));
  const dir = `${root}/halon/v1`;
  if (!existsSync(dir)) return null;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".proto"))
    .map((f) => `halon/v1/${f}`);
  return loadSync(files, { includeDirs: [root], keepCase: false, longs: Number, defaults: true });
}
