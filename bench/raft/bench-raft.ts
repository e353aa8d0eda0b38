// `make bench-raft`: the user's path, Halon against etcd on the same machine,
// driven by the same Node client harness. Three members each, on loopback,
// fsync on, plain TCP, heartbeat 100 ms and election timeout 1000 ms.
//
// Halon runs the recovery coordinator; etcd is the reference:
// - write:     SubmitEvents of one 256-byte opaque event   vs a put of 256 bytes
// - batch100:  SubmitEvents of 100 such events              vs a Txn of 100 puts (events/s)
// - read:      GetGraph, linearizable (ReadIndex)           vs a range read, linearizable
// - readStale: GetGraph with stale = true                   vs a range read, serializable
// - failover:  the leader killed under load, until the next write commits
// at 1, 16 and 256 clients. Prints a table (Halon, etcd, ratio) and, as the
// very last line, one JSON object with every figure and the load average.
//
// Environment: BENCH_QUICK=1 (1 s per level, levels 1 and 16, one failover: for
// trying), BENCH_SECONDS (per level, default 5), BENCH_LEVELS (default
// "1,16,256"), BENCH_FAILOVERS (default 5), BENCH_WORKLOADS (default all).
// HALON_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the replicas;
// BENCH_ONLY=halon skips etcd (for profiling: no ratios, the figures as JSON).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import type { ClusterClient } from "../../src/api/cluster-client.js";
import type { Event } from "../../src/gen/halon/v1/events.js";
import { EtcdBenchCluster, ensureEtcd } from "./etcd-cluster.js";
import { HalonBenchCluster } from "./halon-cluster.js";
import { measureFailover, median, runLevel, type LoadResult, type WriteOp } from "./load.js";

const QUICK = process.env.BENCH_QUICK === "1";
const PAYLOAD_BYTES = 256;
const BATCH = 100;
const MEASURE_MS = Number(process.env.BENCH_SECONDS ?? (QUICK ? 1 : 5)) * 1000;
const WARMUP_MS = QUICK ? 500 : 1_000;
/** Once per system before any level: JIT-compiles the hot paths of every process (both systems alike). */
const SYSTEM_WARMUP_MS = QUICK ? 1_000 : 3_000;
const SYSTEM_WARMUP_CLIENTS = 16;
const FAILOVERS = Number(process.env.BENCH_FAILOVERS ?? (QUICK ? 1 : 5));
const LEVELS = (process.env.BENCH_LEVELS ?? (QUICK ? "1,16" : "1,16,256")).split(",").map(Number);
const WORKLOADS = ["write", "batch100", "read", "readStale"] as const;
type Workload = (typeof WORKLOADS)[number];
const CHOSEN = (process.env.BENCH_WORKLOADS?.split(",") ?? [...WORKLOADS]) as Workload[];
const FAILOVER_CLIENTS = 16;
const PROBE_DEADLINE_MS = 250;
const UNIT: Record<Workload, string> = {
  write: "writes/s",
  batch100: "events/s",
  read: "reads/s",
  readStale: "reads/s",
};
const LABEL: Record<Workload, [string, string]> = {
  write: ["SubmitEvents, 1 event", "put"],
  batch100: [`SubmitEvents, ${BATCH} events`, `Txn of ${BATCH} puts`],
  read: ["GetGraph, linearizable", "range, linearizable"],
  readStale: ["GetGraph, stale", "range, serializable"],
};

interface SystemResult {
  levels: Partial<Record<Workload, LoadResult[]>>;
  failoversMs: number[];
  failoverMedianMs: number;
}

interface System {
  name: string;
  start(): Promise<void>;
  ops: Record<Workload, WriteOp>;
  /** One write with a short deadline, for failover probes. */
  probe(): Promise<unknown>;
  leader(): Promise<string>;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  stop(): Promise<void>;
}

const payload = randomBytes(PAYLOAD_BYTES);
const run = randomBytes(4).toString("hex");

function halonSystem(): System {
  const c = new HalonBenchCluster("rc");
  let probes = 0;
  const event = (id: string): Event => ({ id, source: "bench", opaque: { type: "bench", payload } });
  const submit = (client: ClusterClient, events: Event[]) =>
    client.submitEvents(events).then((res) => {
      // Every event must have been applied (not refused, not a duplicate): the figure counts applied events.
      if (res.results.length !== events.length) throw new Error("missing results");
    });
  return {
    name: "halon",
    start: () => c.start(),
    ops: {
      write: (worker, seq) => submit(c.client, [event(`${run}-w${worker}-${seq}`)]),
      batch100: (worker, seq) =>
        submit(
          c.client,
          Array.from({ length: BATCH }, (_, i) => event(`${run}-b${worker}-${seq}-${i}`)),
        ),
      read: () => c.client.getGraph(""),
      readStale: () => c.client.getGraph("", { stale: true }),
    },
    probe: () => c.probe((client) => submit(client, [event(`${run}-probe-${++probes}`)]), PROBE_DEADLINE_MS),
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
    ops: {
      write: (worker, seq) => c.put(`bench/${worker}/${seq % 1000}`, payload),
      batch100: (worker, seq) =>
        c.putMany(
          Array.from({ length: BATCH }, (_, i) => `bench/${worker}/${seq % 10}/${i}`),
          payload,
        ),
      read: (worker) => c.get(`bench/${worker % 16}/0`, false),
      readStale: (worker) => c.get(`bench/${worker % 16}/0`, true),
    },
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
    await runLevel(system.ops.write, SYSTEM_WARMUP_CLIENTS, 0, SYSTEM_WARMUP_MS);
    const levels: SystemResult["levels"] = {};
    for (const w of CHOSEN) {
      levels[w] = [];
      for (const concurrency of LEVELS) {
        const r = await runLevel(system.ops[w], concurrency, WARMUP_MS, MEASURE_MS);
        if (w === "batch100") r.throughput *= BATCH;
        console.error(
          `${system.name} ${w} c=${concurrency}: ${r.throughput.toFixed(0)} ${UNIT[w]}, p50 ${r.p50Ms.toFixed(2)} ms, ` +
            `p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors (load average ${loadavg()[0]!.toFixed(2)})`,
        );
        levels[w].push(r);
      }
    }
    const failoversMs: number[] = [];
    for (let i = 0; i < FAILOVERS; i++) {
      const leader = await system.leader();
      const ms = await measureFailover(
        system.ops.write,
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
    return { levels, failoversMs, failoverMedianMs: failoversMs.length > 0 ? median(failoversMs) : NaN };
  } finally {
    await system.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "-";
}

function round(n: number): number | null {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : null;
}

type Row = [string, number, number, number];

function printTable(title: string, rows: Row[]): void {
  const head = [title, "halon", "etcd", "halon/etcd"];
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
  console.log("");
}

function report(halon: SystemResult, etcd: SystemResult, etcdVersion: string, load: number[]) {
  const json: Record<string, unknown> = {
    payloadBytes: PAYLOAD_BYTES,
    batch: BATCH,
    measureSeconds: MEASURE_MS / 1000,
    quick: QUICK,
    cpus: cpus().length,
    node: process.version,
    etcd: etcdVersion,
  };
  for (const w of CHOSEN) {
    const rows: Row[] = [];
    halon.levels[w]!.forEach((h, i) => {
      const e = etcd.levels[w]![i]!;
      const c = h.concurrency;
      rows.push([`throughput c=${c} (${UNIT[w]})`, h.throughput, e.throughput, h.throughput / e.throughput]);
      rows.push([`p50 c=${c} (ms)`, h.p50Ms, e.p50Ms, h.p50Ms / e.p50Ms]);
      rows.push([`p99 c=${c} (ms)`, h.p99Ms, e.p99Ms, h.p99Ms / e.p99Ms]);
      json[`${w}_c${c}`] = {
        halon: {
          throughput: round(h.throughput),
          p50Ms: round(h.p50Ms),
          p99Ms: round(h.p99Ms),
          errors: h.errors,
        },
        etcd: {
          throughput: round(e.throughput),
          p50Ms: round(e.p50Ms),
          p99Ms: round(e.p99Ms),
          errors: e.errors,
        },
        ratio: {
          throughput: round(h.throughput / e.throughput),
          p50: round(h.p50Ms / e.p50Ms),
          p99: round(h.p99Ms / e.p99Ms),
        },
      };
    });
    printTable(`${LABEL[w][0]} vs ${LABEL[w][1]}`, rows);
  }
  printTable("failover", [
    [
      "median until the next commit (ms)",
      halon.failoverMedianMs,
      etcd.failoverMedianMs,
      halon.failoverMedianMs / etcd.failoverMedianMs,
    ],
  ]);
  console.log("(ratio: above 1 is better for throughput, below 1 is better for latency and failover)");
  json.failover = {
    halon: round(halon.failoverMedianMs),
    etcd: round(etcd.failoverMedianMs),
    ratio: round(halon.failoverMedianMs / etcd.failoverMedianMs),
    halonRunsMs: halon.failoversMs.map(round),
    etcdRunsMs: etcd.failoversMs.map(round),
  };
  // The machine is shared: a load average above the core count slows every figure (both systems alike).
  json.loadAverage1m = { start: round(load[0]!), end: round(loadavg()[0]!) };
  return json;
}

if (process.env.BENCH_ONLY === "halon") {
  console.log(JSON.stringify(await measure(halonSystem())));
  process.exit(0);
}
const etcdBinary = ensureEtcd();
const loadAtStart = loadavg();
const etcdVersion = execFileSync(etcdBinary, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "";
const halon = await measure(halonSystem());
const etcd = await measure(etcdSystem(etcdBinary));
console.log(JSON.stringify(report(halon, etcd, etcdVersion, loadAtStart)));
