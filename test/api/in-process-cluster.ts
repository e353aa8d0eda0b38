// Three real replicas in this process (LevelDB in a temporary directory, gRPC
// on loopback, plain TCP): for tests that reach inside a replica (its state
// machine, its transport) while it runs.
import { join } from "node:path";
import { Writable } from "node:stream";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { Replica, type ReplicaOptions } from "../../src/api/replica.js";
import { clusterConfigSchema, type ClusterConfig } from "../../src/config/index.js";
import { ReplicaMetrics } from "../../src/dashboard/index.js";
import { createLogger } from "../../src/log/logger.js";
import type { RaftGrpcTransport } from "../../src/raft/transport/driver-transport.js";
import { freePort } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

export class InProcessCluster {
  readonly replicas: Replica[] = [];
  readonly metrics = new Map<string, ReplicaMetrics>();
  /** Error log lines, by replica. */
  readonly errors: { id: string; line: string }[] = [];
  client!: ClusterClient;
  config!: ClusterConfig;
  private readonly tmp = makeTempDir("halon-inproc-");

  static async start(
    options: Partial<Pick<ReplicaOptions, "stateCheckEvery">> = {},
    ids = ["rc1", "rc2", "rc3"],
  ): Promise<InProcessCluster> {
    const c = new InProcessCluster();
    c.config = clusterConfigSchema.parse({
      cluster: { name: "inproc" },
      replicas: await Promise.all(
        ids.map(async (id) => ({
          id,
          grpcAddress: `127.0.0.1:${await freePort()}`,
          peerAddress: `127.0.0.1:${await freePort()}`,
          dataDir: join(c.tmp.dir, id),
        })),
      ),
      nodes: [{ id: "n1", host: "h1", grpcAddress: "127.0.0.1:1", disks: ["d1"] }],
      pools: [],
    });
    for (const id of ids) {
      const m = new ReplicaMetrics();
      const logger = createLogger({
        name: id,
        level: "error",
        pretty: false,
        destination: new Writable({
          write: (chunk: Buffer, _encoding, done) => {
            c.errors.push({ id, line: chunk.toString() });
            done();
          },
        }),
      });
      const r = await Replica.start({
        config: c.config,
        id,
        logger,
        instruments: m,
        insecure: true,
        rcDuties: { nodeSilentMs: 600_000 },
        ...options,
      });
      m.attach({ status: () => r.status(), machine: () => r.coordinator?.machine ?? null });
      c.replicas.push(r);
      c.metrics.set(id, m);
    }
    c.client = new ClusterClient({ addresses: c.config.replicas.map((r) => r.grpcAddress) });
    return c;
  }

  byId(id: string): Replica {
    return this.replicas.find((r) => r.id === id)!;
  }

  addressOf(id: string): string {
    return this.config.replicas.find((r) => r.id === id)!.grpcAddress;
  }

  /** The replica that says it leads, if exactly one does among `among`. */
  leader(among = this.replicas): Replica | undefined {
    const leaders = among.filter((r) => r.status().role === 3);
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /**
   * Cuts `id` off from the other replicas, both ways (their Raft messages to
   * each other are dropped); heal() puts the links back.
   */
  partition(id: string): void {
    for (const r of this.replicas) {
      const peers = Object.fromEntries(
        this.config.replicas
          .filter((p) => (r.id === id ? p.id === id : p.id !== id))
          .map((p) => [p.id, p.peerAddress]),
      );
      transportOf(r).setPeers(peers);
    }
  }

  heal(): void {
    const peers = Object.fromEntries(this.config.replicas.map((p) => [p.id, p.peerAddress]));
    for (const r of this.replicas) transportOf(r).setPeers(peers);
  }

  async stop(): Promise<void> {
    this.client?.close();
    await Promise.all(this.replicas.map((r) => r.stop()));
    this.tmp.remove();
  }
}

function transportOf(r: Replica): RaftGrpcTransport {
  // The replica's own transport: a test reaches in to drop messages (there is no such knob in production).
  return (r as unknown as { transport: RaftGrpcTransport }).transport;
}
