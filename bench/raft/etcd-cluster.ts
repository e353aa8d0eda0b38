// Three etcd members on loopback for the benchmark, with the same heartbeat
// (100 ms) and election timeout (1000 ms) as Halon. Installs Debian's
// etcd-server when etcd is missing.
import { execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConstantBackoff, handleWhen, noop, retry } from "cockatiel";
import { Etcd3, isRecoverableError } from "etcd3";
import { freePort, startProcess, stopProcess, until } from "./processes.js";

export function ensureEtcd(): string {
  const find = () => {
    try {
      return execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" }).trim();
    } catch (_err) {
      return "";
    }
  };
  let path = find();
  if (path) return path;
  console.error("etcd is missing: installing Debian's etcd-server with apt-get");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (args: string[]) =>
    execFileSync(sudo[0] ?? "apt-get", sudo.length ? ["apt-get", ...args] : args, { stdio: "inherit" });
  try {
    apt(["install", "-y", "etcd-server"]);
  } catch (_err) {
    apt(["update"]);
    apt(["install", "-y", "etcd-server"]);
  }
  path = find();
  if (!path) throw new Error("etcd is still missing after apt-get install etcd-server");
  return path;
}

interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
}

export class EtcdBenchCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "etcd-bench-"));
  private members: Member[] = [];
  private readonly children = new Map<string, ChildProcess>();
  private readonly probes = new Map<string, Etcd3>();
  client!: Etcd3;

  constructor(private readonly binary: string) {}

  async start(): Promise<void> {
    for (const name of ["m1", "m2", "m3"])
      this.members.push({ name, clientPort: await freePort(), peerPort: await freePort() });
    for (const m of this.members) this.startMember(m.name);
    // etcd3's default host policy is a circuit breaker that shuns a host for 5 s after three
    // failures, which would add seconds to etcd's failover that etcd itself does not cause.
    // Like Halon's client: retry on another member at once, no breaker.
    this.client = new Etcd3({
      hosts: this.members.map((m) => this.url(m)),
      faultHandling: {
        host: () => noop,
        global: retry(handleWhen(isRecoverableError), { maxAttempts: 3, backoff: new ConstantBackoff(10) }),
      },
    });
    for (const m of this.members)
      this.probes.set(m.name, new Etcd3({ hosts: this.url(m), dialTimeout: 2_000 }));
    await this.leader();
  }

  private url(m: Member): string {
    return `http://127.0.0.1:${m.clientPort}`;
  }

  startMember(name: string): void {
    const m = this.members.find((x) => x.name === name)!;
    const cluster = this.members.map((x) => `${x.name}=http://127.0.0.1:${x.peerPort}`).join(",");
    const args = [
      "--name",
      m.name,
      "--data-dir",
      join(this.dir, m.name),
      "--listen-client-urls",
      this.url(m),
      "--advertise-client-urls",
      this.url(m),
      "--listen-peer-urls",
      `http://127.0.0.1:${m.peerPort}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${m.peerPort}`,
      "--initial-cluster",
      cluster,
      "--initial-cluster-state",
      "new",
      "--initial-cluster-token",
      "halon-bench",
      "--heartbeat-interval",
      "100",
      "--election-timeout",
      "1000",
      "--log-level",
      "warn",
    ];
    this.children.set(name, startProcess(this.binary, args, join(this.dir, `${m.name}.log`)));
  }

  /** The name of the member every running member agrees leads. */
  async leader(): Promise<string> {
    let leader = "";
    await until(async () => {
      const ids = new Map<string, string>();
      let leaderId = "";
      for (const m of this.members) {
        if (!this.children.has(m.name)) continue;
        const s = await this.probes
          .get(m.name)!
          .maintenance.status({ deadline: Date.now() + 2_000 })
          .catch(() => null);
        if (!s) continue;
        ids.set(s.header.member_id, m.name);
        if (s.leader !== "0") leaderId = s.leader;
      }
      leader = ids.get(leaderId) ?? "";
      return leader !== "";
    }, "an etcd leader");
    return leader;
  }

  async kill(name: string): Promise<void> {
    await stopProcess(this.children.get(name), "SIGKILL");
    this.children.delete(name);
  }

  async restart(name: string): Promise<void> {
    this.startMember(name);
    await until(async () => {
      const s = await this.probes.get(name)!.maintenance.status({ deadline: Date.now() + 2_000 });
      return s.leader !== "0" && Number(s.raftAppliedIndex) > 0;
    }, `${name} to rejoin`);
  }

  put(key: string, value: Buffer): Promise<unknown> {
    return this.client.put(key).value(value).exec();
  }

  /** `keys.length` puts in one transaction (etcd's batch: one Raft entry; at most 128 ops by default). */
  putMany(keys: string[], value: Buffer): Promise<unknown> {
    // A comparison that always holds (a create revision is never below 0): the Txn's "then" runs.
    return this.client
      .if("bench/never", "Create", ">", -1)
      .then(...keys.map((k) => this.client.put(k).value(value)))
      .commit();
  }

  /** A range read of one key: serializable (the member's own state) or linearizable (ReadIndex). */
  get(key: string, serializable: boolean): Promise<unknown> {
    return this.client.get(key).serializable(serializable).buffer();
  }

  /** One write with a short deadline (the client still tries another member on failure). */
  probe(key: string, value: Buffer, deadlineMs: number): Promise<unknown> {
    return this.client
      .put(key)
      .value(value)
      .options({ deadline: Date.now() + deadlineMs })
      .exec();
  }

  async stop(): Promise<void> {
    this.client?.close();
    for (const p of this.probes.values()) p.close();
    for (const name of [...this.children.keys()]) await this.kill(name);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
