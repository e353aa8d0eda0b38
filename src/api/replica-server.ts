// The gRPC server of one replica: the client service, the Raft peer service,
// standard health checking and server reflection (so grpcurl and grpc_health_probe
// work), on the replica's one address, with mutual TLS when the config asks.
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Server, type UntypedServiceImplementation, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { HalonServiceService, type HalonServiceServer } from "../gen/halon/v1/client.js";
import { serverCredentials, type TlsMaterial } from "../raft/transport/tls.js";
import { guardHandlers, guardService } from "./request-guard.js";

export const HALON_SERVICE_NAME = "halon.v1.HalonService";

export interface ReplicaServerOptions {
  /** host:port; port 0 picks a free one. */
  address: string;
  tls?: TlsMaterial;
  halon: HalonServiceServer;
  /** The Raft peer service from GrpcTransport.service. */
  peer: { definition: ServiceDefinition; implementation: UntypedServiceImplementation };
  /** Extra channel options (message size limits). */
  options?: Record<string, number>;
}

export class ReplicaServer {
  readonly health = new HealthImplementation({ "": "NOT_SERVING", [HALON_SERVICE_NAME]: "NOT_SERVING" });
  private readonly server: Server;
  private boundPort = 0;

  constructor(private readonly opts: ReplicaServerOptions) {
    this.server = new Server(opts.options);
    // Requests that do not decode get INVALID_ARGUMENT naming the field (see request-guard.ts).
    this.server.addService(guardService(HalonServiceService), guardHandlers(HalonServiceService, opts.halon));
    this.server.addService(opts.peer.definition, opts.peer.implementation);
    this.health.addToServer(this.server);
    const protos = reflectionDefinition();
    if (protos) new ReflectionService(protos).addToServer(this.server);
  }

  /** Binds and starts serving; resolves with the port actually bound. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(this.opts.address, serverCredentials(this.opts.tls), (err, port) => {
        if (err) {
          reject(new Error(`cannot listen on ${this.opts.address}: ${err.message}`));
          return;
        }
        this.boundPort = port;
        resolve(port);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Marks the replica as serving (or not) for health checks. */
  setServing(serving: boolean): void {
    const value = serving ? "SERVING" : "NOT_SERVING";
    this.health.setStatus("", value);
    this.health.setStatus(HALON_SERVICE_NAME, value);
  }

  /** Lets calls under way finish for up to graceMs, then cuts the rest. */
  stop(graceMs = 500): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
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
