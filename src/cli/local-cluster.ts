// A whole cluster from one config file on this machine: one `halon rc` child
// process per replica and one `halon node` per node service, each logging to
// its own file. `halon up` (and so `make run`) uses it; a real multi-host
// deployment runs `halon rc` and `halon node` on each host instead.
// It is also the cluster's infrastructure provider: when the config's
// `infrastructure` names a grpc provider on a loopback address, it serves
// halon.v1.InfraService there, and a RespawnNode starts the node service
// process again (killing it first if it still runs).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { dirname, join } from "node:path";
import { ClusterClient } from "../api/cluster-client.js";
import type { ClusterConfig } from "../config/index.js";
import type { TlsSource } from "../raft/transport/tls.js";
import { ReplicaRole, type ReplicaStatus } from "../gen/halon/v1/client.js";
import type { RespawnNodeRequest } from "../gen/halon/v1/infra.js";
import { serveInfraService, type InfraServer, type RespawnAnswer } from "../api/infra/index.js";
import { isLoopback, loadSecurity } from "../api/security-setup.js";
import { serverCredentials } from "../raft/transport/tls.js";
import { createLogger, type Logger } from "../log/logger.js";

export interface LocalMember {
  kind: "replica" | "node";
  id: string;
  grpcAddress: string;
  logFile: string;
  process: ChildProcess;
  /** Killed on purpose by a respawn: its exit is not news. */
  replaced?: boolean;
}

export interface LocalClusterOptions {
  configFile: string;
  config: ClusterConfig;
  /** Where each replica's log goes; next to the data directories by default. */
  logDir?: string;
  /** Start the node services of the config too (default true). */
  withNodes?: boolean;
  /** Plain TCP on loopback (--insecure); otherwise every member uses its own certificate. */
  insecure?: boolean;
  /** The operator's certificate, for waiting on the leader and the nodes (undefined when insecure). */
  clientTls?: TlsSource;
  /** Where the InfraService's log lines go (its respawns). */
  logger?: Logger;
  /** Called when a member exits while the cluster is meant to be running. */
  onUnexpectedExit?: (member: LocalMember, code: number | null, signal: string | null) => void;
}

const silentLogger = createLogger({ name: "infra", level: "silent" });

/**
 * A 64 MB young generation: the coordinator's apply path allocates many
 * short-lived objects, and V8's default turns that into long GC pauses
 * (make bench-rc measured 73k against 140k events/s).
 */
const REPLICA_NODE_FLAGS = ["--max-semi-space-size=64"];

/** The command that re-runs this very CLI (dist/ or sources under tsx alike). */
function selfCommand(): { command: string; args: string[] } {
  const flags = REPLICA_NODE_FLAGS.filter(
    (f) => !process.execArgv.some((a) => a.startsWith(f.split("=")[0]!)),
  );
  return { command: process.execPath, args: [...flags, ...process.execArgv, process.argv[1]!] };
}

export class LocalCluster {
  readonly replicas: LocalMember[] = [];
  readonly nodes: LocalMember[] = [];
  readonly logDir: string;
  /** The InfraService servers (usually one), once serveInfrastructure has run. */
  readonly infraServers: { name: string; address: string; server: InfraServer }[] = [];
  private stopping = false;

  constructor(private readonly options: LocalClusterOptions) {
    const firstDataDir = options.config.replicas[0]!.dataDir;
    this.logDir = options.logDir ?? join(dirname(firstDataDir), "logs");
  }

  start(): void {
    mkdirSync(this.logDir, { recursive: true });
    for (const r of this.options.config.replicas) {
      this.replicas.push(this.spawnMember("replica", r.id, r.grpcAddress, ["rc"]));
    }
    if (this.options.withNodes === false) return;
    // Node services need no leader to start: they retry their reports until one answers.
    for (const n of this.options.config.nodes) {
      this.nodes.push(this.spawnMember("node", n.id, n.grpcAddress, ["node"]));
    }
  }

  /**
   * Serves InfraService at every loopback address the config names for a grpc
   * provider; returns those served. Other addresses are some other system's.
   */
  async serveInfrastructure(): Promise<{ name: string; address: string }[]> {
    const { config, insecure } = this.options;
    const byName = new Map<string, string>();
    for (const p of [config.infrastructure.default, ...Object.values(config.infrastructure.hosts)])
      if (p?.provider === "grpc" && isLoopback(p.address)) byName.set(p.name, p.address);
    for (const [name, address] of byName) {
      const tls = loadSecurity(config, "infra", name, [address], { insecure: insecure === true });
      const server = await serveInfraService({
        address,
        credentials: serverCredentials(tls),
        cluster: config.cluster.name,
        replicaIds: config.replicas.map((r) => r.id),
        logger: this.options.logger ?? silentLogger,
        respawn: (req) => this.respawnNode(req),
      });
      this.infraServers.push({ name, address, server });
    }
    return [...byName].map(([name, address]) => ({ name, address }));
  }

  /** A RespawnNode: the node service process again, the old one killed first if it still runs. */
  async respawnNode(req: RespawnNodeRequest): Promise<RespawnAnswer> {
    const node = this.options.config.nodes.find((n) => n.id === req.nodeId);
    if (!node) return { ok: false, detail: `no node "${req.nodeId}" in the config` };
    if (node.host !== req.hostId)
      return { ok: false, detail: `node "${req.nodeId}" runs on host "${node.host}", not "${req.hostId}"` };
    if (this.stopping) return { ok: false, detail: "the local cluster is stopping" };
    const at = this.nodes.findIndex((m) => m.id === node.id);
    const old = at >= 0 ? this.nodes[at]! : undefined;
    let killed = "";
    if (old && old.process.exitCode === null && old.process.signalCode === null) {
      const exited = new Promise<void>((resolve) => old.process.once("exit", () => resolve()));
      old.replaced = true;
      old.process.kill("SIGKILL");
      await exited;
      killed = ` (killed pid ${old.process.pid} first)`;
    }
    const fresh = this.spawnMember("node", node.id, node.grpcAddress, ["node"]);
    if (at >= 0) this.nodes[at] = fresh;
    else this.nodes.push(fresh);
    const started = await new Promise<string | null>((resolve) => {
      fresh.process.once("spawn", () => resolve(null));
      fresh.process.once("error", (err) => resolve(err.message));
    });
    return started === null
      ? { ok: true, detail: `node service ${node.id} started again as pid ${fresh.process.pid}${killed}` }
      : { ok: false, detail: `cannot start node service ${node.id}: ${started}` };
  }

  private spawnMember(kind: LocalMember["kind"], id: string, grpcAddress: string, command: string[]) {
    const self = selfCommand();
    const logFile = join(this.logDir, `${id}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn(
      self.command,
      [
        ...self.args,
        ...command,
        "--config",
        this.options.configFile,
        "--id",
        id,
        ...(this.options.insecure ? ["--insecure"] : []),
      ],
      {
        stdio: ["ignore", fd, fd],
        env: { ...process.env, HALON_LOG_FORMAT: "json" },
      },
    );
    closeSync(fd);
    const member: LocalMember = { kind, id, grpcAddress, logFile, process: child };
    child.on("exit", (code, signal) => {
      if (!this.stopping && !member.replaced) this.options.onUnexpectedExit?.(member, code, signal);
    });
    return member;
  }

  /** Polls every replica until one is leader and all answer, or the deadline passes. */
  async waitForLeader(timeoutMs: number): Promise<ReplicaStatus> {
    const client = new ClusterClient({
      addresses: this.replicas.map((r) => r.grpcAddress),
      tls: this.options.clientTls,
    });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const answers = await client.statusAll();
        const leader = answers.find((a) => a.status?.role === ReplicaRole.REPLICA_ROLE_LEADER)?.status;
        if (leader && answers.every((a) => a.status)) return leader;
        if (Date.now() > deadline) {
          const down = answers
            .filter((a) => !a.status)
            .map((a) => `${a.address} (${a.error ?? "no answer"})`);
          throw new Error(
            leader
              ? `replicas not answering: ${down.join(", ")}`
              : `no leader elected within ${timeoutMs} ms${down.length ? `; not answering: ${down.join(", ")}` : ""}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      client.close();
    }
  }

  /** Polls the graph until every started node is online; returns those that are not by the deadline. */
  async waitForNodesOnline(timeoutMs: number): Promise<string[]> {
    const client = new ClusterClient({
      addresses: this.replicas.map((r) => r.grpcAddress),
      tls: this.options.clientTls,
    });
    const deadline = Date.now() + timeoutMs;
    let missing = this.nodes.map((n) => n.id);
    try {
      while (missing.length > 0 && Date.now() < deadline) {
        const graph = await client.getGraph().catch(() => null);
        const online = new Set(
          (graph?.graph?.resources ?? [])
            .filter((r) => r.kind === "Node" && r.attributes.state === JSON.stringify("online"))
            .map((r) => r.id),
        );
        missing = missing.filter((id) => !online.has(id));
        if (missing.length > 0) await new Promise((r) => setTimeout(r, 250));
      }
      return missing;
    } finally {
      client.close();
    }
  }

  /** SIGHUP to every member: each re-reads its certificate files (rotation). */
  reloadCertificates(): void {
    for (const m of [...this.replicas, ...this.nodes])
      if (m.process.exitCode === null) m.process.kill("SIGHUP");
  }

  /**
   * SIGTERM to the node services (each stops its processes), then to every
   * replica (each hands over leadership first); SIGKILL after the grace period.
   */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    await Promise.all(this.infraServers.map((s) => s.server.close()));
    await this.stopMembers(this.nodes, graceMs);
    await this.stopMembers(this.replicas, graceMs);
  }

  private async stopMembers(members: LocalMember[], graceMs: number): Promise<void> {
    await Promise.all(
      members.map(
        (r) =>
          new Promise<void>((resolve) => {
            const child = r.process;
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  }
}
