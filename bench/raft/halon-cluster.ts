// Three Halon replicas as processes on loopback, for the benchmark: running
// the recovery coordinator (the user's path: SubmitEvents, GetGraph), or the
// hash-chain test machine (raw Propose).
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { freePort, startProcess, stopProcess, until } from "./processes.js";

export type BenchMachine = "rc" | "hash-chain";

export class HalonBenchCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "halon-bench-"));
  readonly ids = ["rc1", "rc2", "rc3"];
  private readonly ports = new Map<string, number>();
  private readonly peerPorts = new Map<string, number>();
  private readonly children = new Map<string, ChildProcess>();
  private readonly configFile = join(this.dir, "cluster.yaml");
  client!: ClusterClient;
  private prober: ClusterClient | undefined;

  /** @param raftExtra more lines of the config's raft section (e.g. "  snapshotThreshold: 500") */
  constructor(
    readonly machine: BenchMachine = "rc",
    private raftExtra: string[] = [],
  ) {}

  /** Stops every replica (SIGTERM), rewrites the raft section's extra lines, starts them again. */
  async reconfigure(raftExtra: string[]): Promise<void> {
    for (const id of [...this.children.keys()]) await this.kill(id, "SIGTERM");
    this.raftExtra = raftExtra;
    this.writeConfig();
    for (const id of this.ids) this.startReplica(id);
    await this.leader();
    await until(async () => {
      const all = await Promise.all(this.ids.map((r) => this.client.status(this.address(r))));
      const commit = Math.max(...all.map((s) => s.commitIndex));
      return all.every((s) => s.appliedIndex >= commit);
    }, "every replica to answer and catch up");
  }

  async start(): Promise<void> {
    for (const id of this.ids) {
      this.ports.set(id, await freePort());
      this.peerPorts.set(id, await freePort());
    }
    this.writeConfig();
    for (const id of this.ids) this.startReplica(id);
    this.client = new ClusterClient({
      addresses: this.ids.map((id) => this.address(id)),
      leaderTimeoutMs: 60_000,
    });
    await this.leader();
  }

  private writeConfig(): void {
    const lines = [
      "cluster:",
      "  name: bench",
      "raft:",
      "  heartbeatMs: 100",
      "  electionTimeoutMs: 1000",
      ...this.raftExtra,
      // Event ids are remembered for a minute (10 by default): at 20,000 events/s the default
      // table (1,000,000 ids) would fill in under a minute and refuse events.
      "recovery:",
      "  dedupRetentionMs: 60000",
      "  dedupMaxIds: 3000000",
      "replicas:",
    ];
    for (const id of this.ids) {
      lines.push(
        `  - id: ${id}`,
        `    grpcAddress: ${this.address(id)}`,
        `    peerAddress: 127.0.0.1:${this.peerPorts.get(id)}`,
        `    dataDir: data/${id}`,
      );
    }
    writeFileSync(this.configFile, lines.join("\n") + "\n");
  }

  address(id: string): string {
    return `127.0.0.1:${this.ports.get(id)}`;
  }

  startReplica(id: string): void {
    // The built CLI when there is one (as deployed), the sources otherwise.
    // (The test entry point: the halon binary has no --state-machine.)
    const built = existsSync("dist/cli/testing-main.js");
    const entry = built ? ["dist/cli/testing-main.js"] : ["--import", "tsx", "src/cli/testing-main.ts"];
    // HALON_BENCH_NODE_ARGS: extra node flags for the replicas (e.g. --cpu-prof), for profiling.
    const extra = process.env.HALON_BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
    // As recommended for production (docs/operations.md) and as `halon up` does.
    entry.unshift("--max-semi-space-size=64", ...extra);
    const child = startProcess(
      process.execPath,
      // Plain TCP on loopback, like the etcd it is compared with (which runs without TLS).
      [
        ...entry,
        "rc",
        "--config",
        this.configFile,
        "--id",
        id,
        ...(this.machine === "hash-chain" ? ["--state-machine", "hash-chain"] : []),
        "--insecure",
      ],
      join(this.dir, `${id}.log`),
      {
        HALON_LOG_FORMAT: "json",
        HALON_LOG_LEVEL: "warn",
      },
    );
    this.children.set(id, child);
  }

  /** Waits for a leader among the running replicas and returns its id. */
  async leader(): Promise<string> {
    let leader = "";
    await until(async () => {
      for (const id of this.ids) {
        if (!this.children.has(id)) continue;
        const s = await this.client.status(this.address(id)).catch(() => null);
        if (s?.role === ReplicaRole.REPLICA_ROLE_LEADER) {
          leader = id;
          return true;
        }
      }
      return false;
    }, "a Halon leader");
    return leader;
  }

  async kill(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await stopProcess(this.children.get(id), signal);
    this.children.delete(id);
  }

  /** Restarts a killed replica and waits until it has caught up. */
  async restart(id: string): Promise<void> {
    this.startReplica(id);
    await until(
      async () => {
        const all = await Promise.all(this.ids.map((r) => this.client.status(this.address(r))));
        const commit = Math.max(...all.map((s) => s.commitIndex));
        return all.every((s) => s.appliedIndex >= commit - 100);
        // It restores its snapshot (the id table of a minute of events: megabytes) and replays the log after it.
      },
      `${id} to catch up`,
      180_000,
    );
  }

  propose(payload: Buffer): Promise<unknown> {
    return this.client.propose(payload);
  }

  /** A write with a short deadline, tried on the replicas in turn: for failover probes. */
  probe(write: (client: ClusterClient) => Promise<unknown>, deadlineMs: number): Promise<unknown> {
    this.prober ??= new ClusterClient({
      addresses: this.ids.map((id) => this.address(id)),
      callTimeoutMs: deadlineMs,
      leaderTimeoutMs: deadlineMs,
    });
    return write(this.prober);
  }

  async stop(): Promise<void> {
    this.client?.close();
    this.prober?.close();
    // SIGTERM when profiling: a replica writes its --cpu-prof profile only when it exits by itself.
    const signal = process.env.HALON_BENCH_NODE_ARGS?.includes("--cpu-prof") ? "SIGTERM" : "SIGKILL";
    for (const id of [...this.children.keys()]) await this.kill(id, signal);
    // BENCH_KEEP=1: the data directories and logs stay, for a look afterwards.
    if (process.env.BENCH_KEEP === "1") console.error(`replicas' data and logs kept in ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}
