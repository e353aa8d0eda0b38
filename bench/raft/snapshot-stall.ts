// `make bench-snapshot-stall`: snapshots of a 10,000-host state must not stall
// Raft. Three coordinator replicas as processes; the topology of 10,000 hosts
// (about 90,000 resources) is declared through SubmitEvents; then 16 clients
// submit one event per call:
// 1. steady state: snapshots off (threshold out of reach);
// 2. the replicas restarted with a snapshot every STALL_THRESHOLD entries: each
//    replica snapshots its whole state as often as its pacing allows (a pause
//    of 4x a snapshot's duration after each, see snapshot-policy.ts).
// Passes when, during 2, every replica's snapshot index moved on, no leader
// election happened (same leader, same term), and p99 latency is within 2x of
// 1's. Exits 1 otherwise. The last line printed is one JSON object.
//
// Environment: STALL_HOSTS (default 10000), STALL_SECONDS (per phase, default 20),
// STALL_THRESHOLD (entries between snapshots, default 300).
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import type { Event } from "../../src/gen/halon/v1/events.js";
import { declaredHosts } from "../../test/rc/harness.js";
import { HalonBenchCluster } from "./halon-cluster.js";
import { runLevel, type LoadResult } from "./load.js";

const HOSTS = Number(process.env.STALL_HOSTS ?? 10_000);
const SECONDS = Number(process.env.STALL_SECONDS ?? 20);
const THRESHOLD = Number(process.env.STALL_THRESHOLD ?? 300);
const CLIENTS = 16;
const HOSTS_PER_EVENT = 200;

const cluster = new HalonBenchCluster("rc", ["  snapshotThreshold: 1000000000"]);
const payload = randomBytes(256);
const run = randomBytes(4).toString("hex");
const op = (w: number, s: number) =>
  cluster.client.submitEvents([
    { id: `${run}-${w}-${s}`, source: "bench", opaque: { type: "bench", payload } } as Event,
  ]);

async function statuses() {
  return Promise.all(cluster.ids.map((id) => cluster.client.status(cluster.address(id))));
}

let failed: boolean | undefined;
try {
  await cluster.start();
  const t0 = performance.now();
  const { hosts, pools } = declaredHosts({ hosts: HOSTS, processesPerNode: 2, disksPerHost: 4, pools: 100 });
  for (let i = 0; i < hosts.length; i += HOSTS_PER_EVENT)
    await cluster.client.submitEvents([
      {
        id: `${run}-topology-${i}`,
        source: "bench",
        topologyDeclared: { clusterName: "bench", hosts: hosts.slice(i, i + HOSTS_PER_EVENT), pools: [] },
      },
    ]);
  for (let i = 0; i < pools.length; i += 10)
    await cluster.client.submitEvents([
      {
        id: `${run}-pools-${i}`,
        source: "bench",
        topologyDeclared: { clusterName: "bench", hosts: [], pools: pools.slice(i, i + 10) },
      },
    ]);
  const graph = await cluster.client.getGraph("", { stale: true });
  const resources = graph.graph?.resources.length ?? 0;
  console.error(
    `topology of ${HOSTS} hosts declared: ${resources} resources, ${(performance.now() - t0) / 1000} s`,
  );

  const phase = async (
    name: string,
  ): Promise<{
    r: LoadResult;
    before: number[];
    after: number[];
    terms: number[][];
    leaders: string[][];
  }> => {
    const s0 = await statuses();
    const r = await runLevel(op, CLIENTS, 2_000, SECONDS * 1000);
    const s1 = await statuses();
    console.error(
      `${name}: ${r.throughput.toFixed(0)} writes/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ` +
        `snapshots at ${s1.map((s) => s.snapshotIndex).join("/")}, terms ${s0.map((s) => s.term).join("/")} -> ${s1.map((s) => s.term).join("/")} ` +
        `(load average ${loadavg()[0]!.toFixed(2)})`,
    );
    return {
      r,
      before: s0.map((s) => s.snapshotIndex),
      after: s1.map((s) => s.snapshotIndex),
      terms: [s0.map((s) => s.term), s1.map((s) => s.term)],
      leaders: [s0.map((s) => s.leaderId), s1.map((s) => s.leaderId)],
    };
  };

  const steady = await phase("steady state (no snapshots)");
  await cluster.reconfigure([`  snapshotThreshold: ${THRESHOLD}`, "  trailingEntries: 1000"]);
  const snap = await phase(`snapshots every ${THRESHOLD} entries`);
  // How far each replica's newest snapshot moved in the phase. A replica paces its snapshots
  // (src/raft/driver/snapshot-policy.ts: a pause of 4x a long snapshot), so one snapshot may cover
  // many thresholds: the advance shows that snapshots were taken all along, not how many.
  const snapshotAdvance = snap.after.map((a, i) => a - snap.before[i]!);
  const noElection =
    snap.terms[0]!.every((t, i) => t === snap.terms[1]![i]) &&
    new Set([...snap.leaders[0]!, ...snap.leaders[1]!]).size === 1;
  const ratio = snap.r.p99Ms / steady.r.p99Ms;
  const checks = {
    snapshotsOnEveryReplica: snapshotAdvance.every((n) => n >= THRESHOLD),
    noElection,
    p99Within2x: ratio <= 2,
  };
  failed = !Object.values(checks).every(Boolean);
  console.log(
    `p99 ${steady.r.p99Ms.toFixed(2)} ms steady, ${snap.r.p99Ms.toFixed(2)} ms while snapshotting (x${ratio.toFixed(2)}); ` +
      `snapshot index advanced by ${snapshotAdvance.join("/")} entries per replica; election: ${noElection ? "none" : "YES"}: ${failed ? "FAIL" : "pass"}`,
  );
  console.log(
    JSON.stringify({
      hosts: HOSTS,
      resources,
      clients: CLIENTS,
      seconds: SECONDS,
      snapshotThreshold: THRESHOLD,
      steady: { throughput: Math.round(steady.r.throughput), p50Ms: steady.r.p50Ms, p99Ms: steady.r.p99Ms },
      snapshotting: { throughput: Math.round(snap.r.throughput), p50Ms: snap.r.p50Ms, p99Ms: snap.r.p99Ms },
      p99Ratio: Math.round(ratio * 100) / 100,
      snapshotIndexAdvance: snapshotAdvance,
      terms: snap.terms,
      checks,
      loadAverage1m: loadavg()[0],
    }),
  );
} finally {
  await cluster.stop();
}
process.exit(failed === false ? 0 : 1);
