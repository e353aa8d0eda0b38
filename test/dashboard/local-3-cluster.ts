// The cluster of cluster-configs/local-3.yaml, as processes, on free ports in
// a temp directory: three `halon rc` (each with its dashboard) and three
// `halon node` services whose local restart budget is 0, so that a killed
// process is reported to the coordinator at once. Stopped by pid. Mutual TLS
// as in production: `halon certs` first (into the temp directory); the
// dashboards are HTTPS and take a reader's or an operator's certificate.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { identityFiles, type Role } from "../../src/api/identity.js";
import { issueCertificates } from "../../src/cli/certificate-authority.js";
import { loadClusterConfig, type ClusterConfig } from "../../src/config/index.js";
import type { TlsMaterial } from "../../src/raft/transport/tls.js";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

interface Local3 {
  replicas: { id: string; grpcAddress: string; dashboardAddress: string; dataDir: string }[];
  nodes: { id: string; grpcAddress: string; processes: { name: string }[] }[];
  pools: { id: string; disks: string[] }[];
}

/** The dashboard bundle, built when a focused run did not build it (make test builds it first). */
export function ensureWebBundle(): void {
  if (existsSync("dist/web/app.js")) return;
  const res = spawnSync("npm", ["run", "--silent", "build:web"], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`npm run build:web failed: ${res.stderr}`);
}

export class Local3Cluster {
  readonly config: Local3;
  readonly configFile: string;
  readonly children = new Map<string, ChildProcess>();
  private readonly tmp = makeTempDir("halon-dashboard-");
  /** Made once the addresses are relocated. */
  client!: ClusterClient;
  /** The config as the processes load it (certsDir resolved). */
  loaded!: ClusterConfig;

  private constructor(config: Local3) {
    this.config = config;
    this.configFile = join(this.tmp.dir, "cluster.yaml");
  }

  static async start(): Promise<Local3Cluster> {
    const config = parse(readFileSync("cluster-configs/local-3.yaml", "utf8")) as Local3;
    const cluster = new Local3Cluster(config);
    await cluster.relocate(config);
    const file = cluster.configFile;
    writeFileSync(file, stringify(config));
    cluster.loaded = loadClusterConfig(file);
    await issueCertificates(cluster.loaded);
    cluster.client = new ClusterClient({
      addresses: config.replicas.map((r) => r.grpcAddress),
      tls: cluster.identity("operator", "admin"),
    });
    for (const r of config.replicas) cluster.spawn(r.id, ["rc", "--config", file, "--id", r.id]);
    for (const n of config.nodes)
      cluster.spawn(n.id, [
        "node",
        "--config",
        file,
        "--id",
        n.id,
        "--local-restarts",
        "0",
        "--heartbeat-ms",
        "500",
      ]);
    await cluster.waitForLeader();
    return cluster;
  }

  /**
   * Every address of the file (any field ending in "Address") to a free port on 127.0.0.1, and
   * every directory (dataDir, certsDir...) into the temp directory: nothing collides with a
   * running `make run`, nothing is written outside the test's directory.
   */
  private async relocate(value: unknown, path = "config"): Promise<void> {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) await this.relocate(value[i], `${path}-${i}`);
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const obj = value as Record<string, unknown>;
    for (const [key, v] of Object.entries(obj)) {
      if (key.endsWith("Address") && typeof v === "string") obj[key] = `127.0.0.1:${await freePort()}`;
      else if (key.endsWith("Dir") && typeof v === "string") obj[key] = join(this.tmp.dir, `${path}-${key}`);
      else await this.relocate(v, `${path}-${key}`);
    }
  }

  private spawn(id: string, args: string[]): void {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, HALON_LOG_FORMAT: "json", HALON_LOG_LEVEL: "warn" },
    });
    child.stderr!.resume();
    this.children.set(id, child);
  }

  /** The PEM files of one identity that `halon certs` issued. */
  identity(role: Role, name: string): TlsMaterial {
    const f = identityFiles(this.loaded, role, name);
    return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
  }

  dashboardUrl(replicaId: string): string {
    return `https://${this.config.replicas.find((r) => r.id === replicaId)!.dashboardAddress}/`;
  }

  /** GET over HTTPS with the cluster's CA trusted and `who`'s certificate presented. */
  get(url: string, who: TlsMaterial): Promise<{ status: number; type: string; body: string }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { ca: who.ca, cert: who.cert, key: who.key }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }),
        );
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  async waitForLeader(): Promise<string> {
    let leader = "";
    await until(async () => {
      const all = await this.client.statusAll();
      leader = all.find((a) => a.status?.role === ReplicaRole.REPLICA_ROLE_LEADER)?.status?.id ?? "";
      return leader !== "" && all.every((a) => a.status);
    }, "a leader and every replica answering");
    return leader;
  }

  /** The pid of the OS process a node service runs for `processId` (its child). */
  processPid(nodeId: string): number {
    const node = this.children.get(nodeId)!;
    // Its children are the processes it supervises (`sleep`) and tsx's esbuild service.
    const out = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(node.pid)], {
      encoding: "utf8",
    }).stdout;
    const pids = out
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter(([, comm]) => comm === "sleep")
      .map(([pid]) => Number(pid));
    if (pids.length !== 1) throw new Error(`node ${nodeId} runs ${pids.length} children: ${out}`);
    return pids[0]!;
  }

  /** Node services first (they stop their children on SIGTERM), then the replicas; then the directory. */
  async stop(): Promise<void> {
    this.client.close();
    const stopAll = async (ids: string[]) =>
      Promise.all(
        ids.map(async (id) => {
          const c = this.children.get(id);
          if (!c || c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise((r) => c.once("exit", r));
          c.kill("SIGTERM");
          const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    await stopAll(this.config.nodes.map((n) => n.id));
    await stopAll(this.config.replicas.map((r) => r.id));
    this.tmp.remove();
  }
}
