// `make bench-raft`: Halon's replicated log against etcd on the same machine,
// driven by the same Node client harness. Three members each, on loopback,
// fsync on, 256-byte payloads, heartbeat 100 ms and election timeout 1000 ms.
// Prints a table (Halon, etcd, ratio) and, as the very last line, one JSON object.
//
// Environment: BENCH_SECONDS (measure time per level, default 5),
// BENCH_FAILOVERS (repetitions, default 5), BENCH_LEVELS (default "1,16,256").
// Each system first runs 3 s of unmeasured load, then each level warms up for 1 s.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { EtcdBenchCluster, ensureEtcd } from "./etcd-cluster.js";
import { HalonBenchCluster } from "./halon-cluster.js";
import { measureFailover, median, runLevel, type LoadResult, type WriteOp } from "./load.js";

const PAYLOAD_BYTES = 256;
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const WARMUP_MS = 1_000;
/** Once per system before any level: JIT-compiles the hot paths of every process (both systems alike). */
const SYSTEM_WARMUP_MS = 3_000;
const SYSTEM_WARMUP_CLIENTS = 16;
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? 5);
const LEVELS = (process.env.BENCH_LEVELS ?? "1,16,256").split(",").map(Number);
const FAILOVER_CLIENTS = 16;
const PROBE_DEADLINE_MS = 250;

interface SystemResult {
  levels: LoadResult[];
  failoversMs: number[];
  failoverMedianMs: number;
}

interface System {
  name: string;
  start(): Promise<void>;
  op: WriteOp;
  /** One write with a short deadline, for failover probes. */
  probe(): Promise<unknown>;
  leader(): Promise<string>;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  stop(): Promise<void>;
}

const payload = randomBytes(PAYLOAD_BYTES);

function halonSystem(): System {
  const c = new HalonBenchCluster();
  return {
    name: "halon",
    start: () => c.start(),
    op: () => c.propose(payload),
    probe: () => c.probe(payload, PROBE_DEADLINE_MS),
    leader: () => c.leader(),
    kill: (id) => c.kill(id),
    restart: (id) => c.restart(id),
    stop: () => c.stop(),
  };
}

function etcdSystem(binary: string): System {
  const c = new EtcdBenchCluster(binary);
  return {
    name: "etcd",
    start: () => c.start(),
    op: (worker, seq) => c.put(`bench/${worker}/${seq % 1000}`, payload),
    probe: () => c.probe("bench/probe", payload, PROBE_DEADLINE_MS),
    leader: () => c.leader(),
    kill: (id) => c.kill(id),
    restart: (id) => c.restart(id),
    stop: () => c.stop(),
  };
}

async function measure(system: System): Promise<SystemResult> {
  try {
    await system.start();
    await runLevel(system.op, SYSTEM_WARMUP_CLIENTS, 0, SYSTEM_WARMUP_MS);
    const levels: LoadResult[] = [];
    for (const concurrency of LEVELS) {
      const r = await runLevel(system.op, concurrency, WARMUP_MS, MEASURE_MS);
      console.error(
        `${system.name} c=${concurrency}: ${r.throughput.toFixed(0)} writes/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors`,
      );
      levels.push(r);
    }
    const failoversMs: number[] = [];
    for (let i = 0; i < FAILOVERS; i++) {
      const leader = await system.leader();
      const ms = await measureFailover(
        system.op,
        FAILOVER_CLIENTS,
        () => system.kill(leader),
        () => system.probe(),
      );
      console.error(
        `${system.name} failover ${i + 1}: killed ${leader}, next commit after ${ms.toFixed(0)} ms`,
      );
      failoversMs.push(ms);
      await system.restart(leader);
    }
    return { levels, failoversMs, failoverMedianMs: median(failoversMs) };
  } finally {
    await system.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

function printTable(halon: SystemResult, etcd: SystemResult, etcdVersion: string): Record<string, unknown> {
  const rows: [string, number, number, number][] = [];
  const json: Record<string, unknown> = {
    payloadBytes: PAYLOAD_BYTES,
    measureSeconds: MEASURE_MS / 1000,
    cpus: cpus().length,
    node: process.version,
    etcd: etcdVersion,
  };
  halon.levels.forEach((h, i) => {
    const e = etcd.levels[i]!;
    const c = h.concurrency;
    rows.push([`throughput c=${c} (writes/s)`, h.throughput, e.throughput, h.throughput / e.throughput]);
    rows.push([`p50 latency c=${c} (ms)`, h.p50Ms, e.p50Ms, h.p50Ms / e.p50Ms]);
    rows.push([`p99 latency c=${c} (ms)`, h.p99Ms, e.p99Ms, h.p99Ms / e.p99Ms]);
  });
  rows.push([
    "failover median (ms)",
    halon.failoverMedianMs,
    etcd.failoverMedianMs,
    halon.failoverMedianMs / etcd.failoverMedianMs,
  ]);
  const head = ["measure", "halon", "etcd", "halon/etcd"];
  const body = rows.map(([name, h, e, r]) => [
    name,
    fmt(h, h < 100 ? 2 : 0),
    fmt(e, e < 100 ? 2 : 0),
    fmt(r, 2),
  ]);
  const widths = head.map((x, i) => Math.max(x.length, ...body.map((b) => b[i]!.length)));
  const line = (cols: string[]) =>
    cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
  console.log(`(ratio: above 1 is better for throughput, below 1 is better for latency and failover)`);
  for (const [name, h, e, r] of rows) {
    const key = name.replace(/ \(.*\)$/, "").replace(/[ =]+/g, "_");
    json[key] = { halon: round(h), etcd: round(e), ratio: round(r) };
  }
  json.failoversMs = { halon: halon.failoversMs.map(round), etcd: etcd.failoversMs.map(round) };
  return json;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

const etcdBinary = ensureEtcd();
const halon = await measure(halonSystem());
const etcdVersion = execFileSync(etcdBinary, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
const etcd = await measure(etcdSystem(etcdBinary));
console.log(JSON.stringify(printTable(halon, etcd, etcdVersion)));
