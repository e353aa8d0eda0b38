// Real replica processes on 127.0.0.1 for end-to-end tests: writes a cluster
// config with free ports into a temp directory, issues the cluster's
// certificates there (mutual TLS is the normal path; `insecure: true` runs
// plain TCP instead), starts `halon rc` children, and stops them by pid and
// removes the directory afterwards.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { identityFiles, type Role } from "../../src/api/identity.js";
import { issueCertificates } from "../../src/cli/certificate-authority.js";
import { loadClusterConfig } from "../../src/config/index.js";
import type { TlsMaterial } from "../../src/raft/transport/tls.js";
import { ReplicaRole, type ReplicaStatus } from "../../src/gen/halon/v1/client.js";
import { makeTempDir } from "../helpers/temp-dir.js";

export interface ReplicaSpec {
  id: string;
  port: number;
  peerPort: number;
  learner?: boolean;
}

export interface HarnessOptions {
  replicas?: number;
  /** Plain TCP (`--insecure`) instead of mutual TLS with the cluster's certificates. */
  insecure?: boolean;
  /** Extra raft settings for the config file. */
  raft?: Record<string, number>;
  /** Run the built dist/ instead of the sources (faster start). */
  useDist?: boolean;
  /**
   * What the replicas apply: "hash-chain" (the default here: these tests propose
   * raw payloads) or "rc", the recovery coordinator.
   */
  stateMachine?: "hash-chain" | "rc";
  /** Extra top-level YAML for the config file (nodes, pools), appended as is. */
  extraConfig?: string;
  /** Extra arguments for every `halon rc`. */
  rcArgs?: string[];
}

/**
 * A port free on 127.0.0.1 for a child process to listen on. Probing with
 * listen(0) and closing the probe is racy: the kernel may give the same port
 * to the next probe (two replicas of one test once got the same port) or to
 * another test worker before the child binds it. So each vitest worker takes
 * ports from a range of its own, below the kernel's ephemeral range (32768 and
 * up on Linux: listen(0) and outgoing connections use it), hands each out once,
 * and checks it with a bind.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_RANGE; tries++) {
    const port = PORT_BASE + (nextPort++ % PORT_RANGE);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${PORT_BASE}-${PORT_BASE + PORT_RANGE - 1}`);
}

const PORT_RANGE = 1_000;
// VITEST_POOL_ID: the worker's number (1 to the number of workers), the same for every file it runs.
const PORT_BASE = 20_000 + (Number(process.env.VITEST_POOL_ID ?? 0) % 12) * PORT_RANGE;
let nextPort = 0;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

const running = new Set<ChildProcess>();
// A test that dies without its afterAll must still not leave replicas behind.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class Cluster {
  readonly dir: string;
  readonly configFile: string;
  specs: ReplicaSpec[] = [];
  readonly processes = new Map<string, ChildProcess>();
  private readonly removeDir: () => void;
  private clientCache: ClusterClient | null = null;

  private constructor(private readonly options: HarnessOptions) {
    const temp = makeTempDir("halon-e2e-");
    this.dir = temp.dir;
    this.removeDir = temp.remove;
    this.configFile = join(this.dir, "cluster.yaml");
  }

  static async create(options: HarnessOptions = {}): Promise<Cluster> {
    const cluster = new Cluster(options);
    for (let i = 1; i <= (options.replicas ?? 3); i++)
      cluster.specs.push({ id: `rc${i}`, port: await freePort(), peerPort: await freePort() });
    cluster.writeConfig();
    await cluster.issueCertificates();
    return cluster;
  }

  get insecure(): boolean {
    return this.options.insecure === true;
  }

  /** Issues what the config needs and is missing (a no-op with --insecure). */
  async issueCertificates(): Promise<void> {
    if (!this.insecure) await issueCertificates(loadClusterConfig(this.configFile));
  }

  /** The certificate files of an identity of this cluster (made by issueCertificates). */
  identity(role: Role, name: string): TlsMaterial {
    const files = identityFiles(loadClusterConfig(this.configFile), role, name);
    return { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
  }

  /** Adds a replica to the config file (as a learner), with its certificate, and returns its id. */
  async addToConfig(id: string): Promise<string> {
    this.specs.push({ id, port: await freePort(), peerPort: await freePort(), learner: true });
    this.writeConfig();
    await this.issueCertificates();
    return id;
  }

  writeConfig(): void {
    const raft = { heartbeatMs: 100, electionTimeoutMs: 1000, ...this.options.raft };
    const lines = [
      "cluster:",
      "  name: e2e",
      "raft:",
      ...Object.entries(raft).map(([k, v]) => `  ${k}: ${v}`),
    ];
    lines.push("security:", "  certsDir: certs");
    lines.push("replicas:");
    for (const s of this.specs) {
      lines.push(
        `  - id: ${s.id}`,
        `    grpcAddress: 127.0.0.1:${s.port}`,
        `    peerAddress: 127.0.0.1:${s.peerPort}`,
        `    dataDir: data/${s.id}`,
      );
      if (s.learner) lines.push("    learner: true");
    }
    if (this.options.extraConfig) lines.push(this.options.extraConfig.trimEnd());
    writeFileSync(this.configFile, lines.join("\n") + "\n");
  }

  dataDir(id: string): string {
    return join(this.dir, "data", id);
  }

  address(id: string): string {
    return `127.0.0.1:${this.spec(id).port}`;
  }

  logFile(id: string): string {
    return join(this.dir, `${id}.log`);
  }

  logOf(id: string): string {
    return readFileSync(this.logFile(id), "utf8");
  }

  spec(id: string): ReplicaSpec {
    const s = this.specs.find((r) => r.id === id);
    if (!s) throw new Error(`no replica ${id}`);
    return s;
  }

  /** Starts one replica process; its stdout and stderr go to DIR/ID.log. */
  start(id: string, extraArgs: string[] = []): ChildProcess {
    const out = openSync(this.logFile(id), "a");
    // The test entry point: `halon rc` plus --state-machine, which the halon binary lacks.
    const entry = this.options.useDist
      ? ["dist/cli/testing-main.js"]
      : ["--import", "tsx", "src/cli/testing-main.ts"];
    const child = spawn(
      process.execPath,
      [
        ...entry,
        "rc",
        "--config",
        this.configFile,
        "--id",
        id,
        "--state-machine",
        this.options.stateMachine ?? "hash-chain",
        ...(this.insecure ? ["--insecure"] : []),
        ...(this.options.rcArgs ?? []),
        ...extraArgs,
      ],
      {
        stdio: ["ignore", out, out],
        env: {
          ...process.env,
          HALON_LOG_FORMAT: "json",
          HALON_LOG_LEVEL: process.env.HALON_LOG_LEVEL ?? "info",
        },
      },
    );
    closeSync(out);
    this.processes.set(id, child);
    running.add(child);
    child.once("exit", () => running.delete(child));
    return child;
  }

  startAll(): void {
    for (const s of this.specs) this.start(s.id);
  }

  /** Sends a signal to one replica by pid and waits for it to exit; returns its exit code. */
  async kill(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number | null> {
    const child = this.processes.get(id);
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    const code = await exited;
    this.processes.delete(id);
    return code;
  }

  /** Waits for a process to exit by itself (e.g. refusing to start). */
  waitForExit(id: string, timeoutMs = 30_000): Promise<number | null> {
    const child = this.processes.get(id)!;
    if (child.exitCode !== null) return Promise.resolve(child.exitCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not exit`)), timeoutMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  client(): ClusterClient {
    this.clientCache ??= new ClusterClient({
      addresses: this.specs.map((s) => `127.0.0.1:${s.port}`),
      tls: this.insecure ? undefined : this.identity("operator", "admin"),
      leaderTimeoutMs: 30_000,
    });
    return this.clientCache;
  }

  /** Statuses of the replicas that answer (among `ids`, or all). */
  async statuses(ids = this.specs.map((s) => s.id)): Promise<Map<string, ReplicaStatus>> {
    const out = new Map<string, ReplicaStatus>();
    await Promise.all(
      ids.map((id) =>
        this.client()
          .status(this.address(id))
          .then(
            (s) => out.set(id, s),
            () => undefined,
          ),
      ),
    );
    return out;
  }

  /** Waits until one of `ids` says it leads and returns its id. */
  async waitForLeader(ids = this.specs.map((s) => s.id), timeoutMs = 60_000): Promise<string> {
    let leader: string | undefined;
    await until(
      async () => {
        const all = await this.statuses(ids);
        leader = [...all.values()].find((s) => s.role === ReplicaRole.REPLICA_ROLE_LEADER)?.id;
        return leader !== undefined;
      },
      "a leader",
      timeoutMs,
    );
    return leader!;
  }

  /** Waits until every replica in `ids` has applied at least `index` and reports the same state hash. */
  async waitForConvergence(ids: string[], timeoutMs = 60_000): Promise<string> {
    let hash = "";
    await until(
      async () => {
        const all = await this.statuses(ids);
        if (all.size !== ids.length) return false;
        const values = [...all.values()];
        const leaderCommit = Math.max(...values.map((s) => s.commitIndex));
        const hashes = new Set(values.map((s) => s.stateHash));
        hash = values[0]!.stateHash;
        return values.every((s) => s.appliedIndex >= leaderCommit) && hashes.size === 1;
      },
      `replicas ${ids.join(", ")} to converge`,
      timeoutMs,
    );
    return hash;
  }

  /** Kills every process by pid and removes the directory. */
  async destroy(): Promise<void> {
    this.clientCache?.close();
    await Promise.all([...this.processes.keys()].map((id) => this.kill(id, "SIGKILL")));
    this.removeDir();
  }
}

export async function until(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
