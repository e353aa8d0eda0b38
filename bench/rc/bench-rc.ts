// Recovery-coordinator benchmark (`make bench-rc`, not part of `make test`).
//
// 1. Apply throughput on one core: a realistic mix of events (mostly
//    heartbeats; process failures, restarts and command answers; a few silent
//    nodes, striping errors and disk replacements; resubmissions and unknown
//    events) applied in batches to a cluster of 10,000 hosts.
// 2. Snapshot and restore of that state (about 100,000 resources): time and size.
//
// The simulated clock advances 50 ms per batch of 500 (10,000 events per
// simulated second), and ids are remembered for 60 s of log time (about
// 340,000 ids live at the end of a 300,000-event run).
//
// Targets (issue 6): >= 100,000 events/s applied; snapshot and restore < 2 s each.
// The last line printed is one JSON object with every figure.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { loadavg } from "node:os";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { EntryType, type Entry } from "../../src/raft/types.js";
import { encodeEventBatch } from "../../src/rc/entry.js";
import { History } from "../../src/rc/history.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { declaredHosts, TEST_CONFIG } from "../../test/rc/harness.js";
import { MixedLoad } from "../../test/rc/mixed-load.js";
import type { Event } from "../../src/gen/halon/v1/events.js";

// The state machine allocates a lot of short-lived objects (decoded events,
// results); a larger young generation lets them die young instead of being
// promoted and collected by full GCs. Replicas run with the same setting
// (node --max-semi-space-size=64, docs/operations.md). BENCH_RC_SEMI_SPACE_MB=0 keeps V8's default.
// V8 sizes the young generation when the process starts: the flag must be on
// node's command line (v8.setFlagsFromString() at run time is silently too
// late), so the script starts itself again with it.
const SEMI_SPACE_MB = Number(process.env.BENCH_RC_SEMI_SPACE_MB ?? 64);
const semiSpaceFlag = `--max-semi-space-size=${SEMI_SPACE_MB}`;
const semiSpaceSet = (process.execArgv.join(" ") + " " + (process.env.NODE_OPTIONS ?? "")).includes(
  semiSpaceFlag,
);
if (SEMI_SPACE_MB > 0 && !semiSpaceSet) {
  const child = spawnSync(process.execPath, [...process.execArgv, semiSpaceFlag, ...process.argv.slice(1)], {
    stdio: "inherit",
  });
  process.exit(child.status ?? 1);
}
const HOSTS = Number(process.env.BENCH_RC_HOSTS ?? 10_000);
const EVENTS = Number(process.env.BENCH_RC_EVENTS ?? 300_000);
const BATCH = 500;
const shape = { hosts: HOSTS, processesPerNode: 2, disksPerHost: 4, pools: 100 };

// BENCH_RC_HISTORY=1: with the history a replica keeps (the trace of each entry), as in production.
const history = process.env.BENCH_RC_HISTORY === "1" ? new History() : null;
const sm = new RcStateMachine({
  config: TEST_CONFIG,
  onTrace: history ? (t) => history.record(t) : undefined,
});
let index = 0;
let time = 0;
// A twin fed the same entries: the event generator reads its state (process
// instances, pending commands) so that answers look real, and all of that
// work and its garbage stay out of the measured machine's timing.
let shadow: RcStateMachine | undefined = new RcStateMachine({ config: TEST_CONFIG });
function apply(events: Event[], dt = 1_000): void {
  time += dt;
  const entry = { term: 1, index: ++index, type: EntryType.Normal, data: encodeEventBatch(time, events) };
  sm.apply(entry);
  shadow?.apply(entry);
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

// ---- build the cluster
let t0 = performance.now();
const { hosts, pools } = declaredHosts(shape);
apply([{ id: "topology", source: "bench", topologyDeclared: { clusterName: "bench", hosts, pools } }]);
for (let i = 0; i < HOSTS; i += 1_000) {
  const joins: Event[] = [];
  for (let j = i; j < Math.min(HOSTS, i + 1_000); j++)
    joins.push({
      id: `join-${j}`,
      source: "bench",
      nodeJoined: { nodeId: `node-${j}`, hostId: `host-${j}`, address: "", epoch: 0 },
    });
  apply(joins);
}
const starts = sm.pendingCommands().filter((c) => c.startProcesses);
const answers: Event[] = [];
for (const c of starts) {
  answers.push({
    id: `ack-${c.id}`,
    source: c.target,
    commandResult: { commandId: c.id, ok: true, detail: "", nodeId: "" },
  });
  for (const p of c.startProcesses?.processes ?? [])
    answers.push({
      id: `up-${p.processId}`,
      source: c.target,
      processStarted: { processId: p.processId, instance: p.instance },
    });
}
for (let i = 0; i < answers.length; i += 2_000) apply(answers.slice(i, i + 2_000));
const buildMs = performance.now() - t0;
const resources = sm.graph.size;
console.log(
  `cluster: ${HOSTS} hosts, ${resources} resources, ${sm.graph.edges} edges, built (on both twins) in ${buildMs.toFixed(0)} ms`,
);

// ---- apply throughput
const load = new MixedLoad(shadow as RcStateMachine, shape, 20261125);
const warmup = 20;
const entries: Entry[] = [];
for (let b = 0; b < warmup + Math.ceil(EVENTS / BATCH); b++) {
  const events = Array.from({ length: BATCH }, () => load.next());
  time += 50; // 10,000 events per simulated second
  const entry = { term: 1, index: ++index, type: EntryType.Normal, data: encodeEventBatch(time, events) };
  shadow?.apply(entry);
  entries.push(entry);
}
const shadowHash = shadow?.stateHash();
shadow = undefined;
// BENCH_RC_PROFILE=file.cpuprofile: a CPU profile of the measured apply loop only.
const profileFile = process.env.BENCH_RC_PROFILE;
const inspector = profileFile ? new Session() : null;
if (inspector) {
  inspector.connect();
  await inspector.post("Profiler.enable");
  await inspector.post("Profiler.start");
}
let applyMs = 0;
// Garbage-collection pauses of the main thread while the measured batches ran
// (V8 reports each one after the fact, with its start time on performance.now()'s clock).
const gcPauses: { start: number; ms: number }[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push({ start: e.startTime, ms: e.duration });
});
gcObserver.observe({ entryTypes: ["gc"] });
let measuredFrom = Number.POSITIVE_INFINITY;
// CPU time of the process (all its threads, so the garbage collector's too):
// what one core can do, whatever else the shared machine is running.
let applyCpuMs = 0;
let applied = 0;
const batchRates: number[] = [];
const batchMs: number[] = [];
for (const [b, entry] of entries.entries()) {
  if (b === warmup) measuredFrom = performance.now();
  const t = performance.now();
  const c = process.cpuUsage();
  sm.apply(entry);
  const dt = performance.now() - t;
  const dc = cpuMs(process.cpuUsage(c));
  if (b < warmup) continue;
  applyMs += dt;
  applyCpuMs += dc;
  applied += BATCH;
  batchRates.push(BATCH / (dt / 1000));
  batchMs.push(dt);
}
if (inspector && profileFile) {
  const { profile } = await inspector.post("Profiler.stop");
  writeFileSync(profileFile, JSON.stringify(profile));
  inspector.disconnect();
}
if (sm.stateHash() !== shadowHash) throw new Error("the measured machine and its twin differ");
const measuredTo = performance.now();
await new Promise((resolve) => setTimeout(resolve, 100)); // the observer gets its entries a little later
gcObserver.disconnect();
const gcPauseMs = gcPauses
  .filter((g) => g.start >= measuredFrom && g.start < measuredTo)
  .reduce((sum, g) => sum + g.ms, 0);
const eventsPerSec = applied / (applyMs / 1000);
const eventsPerCpuSec = applied / (applyCpuMs / 1000);
const pct = (q: number): number =>
  [...batchMs].sort((a, b) => a - b)[Math.floor(q * (batchMs.length - 1))] as number;
console.log(
  `batch of ${BATCH}: p50 ${pct(0.5).toFixed(2)} ms, p90 ${pct(0.9).toFixed(2)} ms, p99 ${pct(0.99).toFixed(2)} ms, ` +
    `max ${pct(1).toFixed(2)} ms; slowest 5% of batches take ${(
      (100 *
        [...batchMs]
          .sort((a, b) => b - a)
          .slice(0, Math.ceil(batchMs.length / 20))
          .reduce((a, b) => a + b, 0)) /
      applyMs
    ).toFixed(0)}% of the time`,
);
console.log(
  `apply: ${applied} events in ${applyMs.toFixed(0)} ms = ${eventsPerSec.toFixed(0)} events/s ` +
    `(${eventsPerCpuSec.toFixed(0)} per CPU second) ` +
    `(median batch ${median(batchRates).toFixed(0)}/s); outbox ${sm.pendingCommands().length}, dedup ${sm.dedupSize()}`,
);

// ---- snapshot and restore
const snapMs: number[] = [];
const restoreMs: number[] = [];
const snapCpuMs: number[] = [];
const restoreCpuMs: number[] = [];
let bytes: Uint8Array = new Uint8Array();
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  let c = process.cpuUsage();
  bytes = sm.snapshot();
  snapMs.push(performance.now() - t0);
  snapCpuMs.push(cpuMs(process.cpuUsage(c)));
  const fresh = new RcStateMachine({ config: TEST_CONFIG });
  t0 = performance.now();
  c = process.cpuUsage();
  fresh.restore(bytes);
  restoreMs.push(performance.now() - t0);
  restoreCpuMs.push(cpuMs(process.cpuUsage(c)));
  if (i === 0 && fresh.stateHash() !== sm.stateHash())
    throw new Error("restored state differs from the original");
}
t0 = performance.now();
sm.stateHash();
const hashMs = performance.now() - t0;
console.log(
  `snapshot: ${(bytes.length / 1e6).toFixed(1)} MB in ${median(snapMs).toFixed(0)} ms; ` +
    `restore ${median(restoreMs).toFixed(0)} ms; state hash ${hashMs.toFixed(0)} ms (medians of 3; ` +
    `CPU ${median(snapCpuMs).toFixed(0)} / ${median(restoreCpuMs).toFixed(0)} ms)`,
);

// A capture for a snapshot, as a replica takes it: the part on the event loop
// (between two entries), and the longest turn of its encoding, which yields
// between slices (issue 15: snapshots must not stall Raft).
const captureMs: number[] = [];
const captureTurnMs: number[] = [];
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  const capture = sm.capture();
  captureMs.push(performance.now() - t0);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await capture.encoded();
  delay.disable();
  captureTurnMs.push(delay.max / 1e6);
}
console.log(
  `capture for a snapshot: ${median(captureMs).toFixed(0)} ms on the event loop, then its longest turn ` +
    `${median(captureTurnMs).toFixed(0)} ms (medians of 3)`,
);

const snapshotMs = median(snapMs);
const restoreMsMedian = median(restoreMs);
const figures = {
  hosts: HOSTS,
  resources,
  edges: sm.graph.edges,
  // Building the cluster on the measured machine and its twin.
  buildMs: Math.round(buildMs),
  eventsApplied: applied,
  batchSize: BATCH,
  // Wall clock, and CPU time of this process (less sensitive to the other work on a shared machine).
  applyEventsPerSec: Math.round(eventsPerSec),
  applyEventsPerCpuSec: Math.round(eventsPerCpuSec),
  applyMedianBatchEventsPerSec: Math.round(median(batchRates)),
  // Of the measured apply's wall-clock time, in garbage-collection pauses of the main thread.
  applyGcPauseMs: Math.round(gcPauseMs),
  snapshotBytes: bytes.length,
  snapshotMs: Math.round(snapshotMs),
  snapshotCpuMs: Math.round(median(snapCpuMs)),
  restoreMs: Math.round(restoreMsMedian),
  restoreCpuMs: Math.round(median(restoreCpuMs)),
  stateHashMs: Math.round(hashMs),
  captureOnLoopMs: Math.round(median(captureMs)),
  captureLongestTurnMs: Math.round(median(captureTurnMs)),
  v8MaxSemiSpaceMB: SEMI_SPACE_MB === 0 ? "default" : SEMI_SPACE_MB,
  // What V8 gave the young generation (it grows up to the flag's size; V8's default is 16 MB).
  youngGenerationMB: Math.round(
    (getHeapSpaceStatistics().find((s) => s.space_name === "new_space")?.space_size ?? 0) / 2 ** 20,
  ),
  dedupRetentionMs: TEST_CONFIG.dedupRetentionMs,
  // The machine is shared: a load average above the core count slows every wall-clock figure.
  loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
  targets: { applyEventsPerSec: 100_000, snapshotMs: 2_000, restoreMs: 2_000 },
  met: {
    apply: eventsPerSec >= 100_000,
    snapshot: snapshotMs < 2_000,
    restore: restoreMsMedian < 2_000,
  },
  metOnCpuTime: {
    apply: eventsPerCpuSec >= 100_000,
    snapshot: median(snapCpuMs) < 2_000,
    restore: median(restoreCpuMs) < 2_000,
  },
};
console.log(JSON.stringify(figures));
