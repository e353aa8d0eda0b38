// `make bench-nodes`: N simulated node services (default 1,000, BENCH_NODES) in
// this one process against 3 real `halon rc` replica processes on loopback.
// Each simulated node has its own NodeService address (127.1.x.y, all on one
// port, one gRPC server) and renews its session with the leader like
// `halon node` does (src/node/session-keeper.ts' protocol, through one shared
// ClusterClient). It measures:
//   - log entries per second at idle (target: 0 from liveness), and the
//     leader's CPU at idle (% of one core);
//   - from a node's death (its renewals stop) to its NodeSilent committed
//     (seen in the graph), p50 and p99 over BENCH_VICTIMS nodes;
//   - from a striping error to the EpochTransition delivered to all N, and
//     acknowledged (no epoch command left in the outbox);
//   - after a leader SIGKILL, the time until all N renewed with the new leader.
// Plain TCP (--insecure, loopback). The very last line printed is one JSON object.
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, status } from "@grpc/grpc-js";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { ReplicaRole } from "../../src/gen/halon/v1/client.js";
import { NodeServiceService, type NodeServiceServer } from "../../src/gen/halon/v1/node.js";
import { freePort, startProcess, stopProcess } from "../raft/processes.js";

const N = Number(process.env.BENCH_NODES ?? 1_000);
const VICTIMS = Number(process.env.BENCH_VICTIMS ?? 50);
const IDLE_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 10) * 1000;
const HEARTBEAT_MS = 1_000;
const SILENT_MS = 5_000;
const GRACE_MS = 3_000;
const CLK_TCK = 100;

interface SimNode {
  id: string;
  address: string;
  renewing: boolean;
  inFlight: boolean;
  leaderId: string;
  /** When it last got an answer from each leader. */
  firstAnswerFrom: Map<string, number>;
  epoch: number;
  epochAt: number;
  behindSentAt: number;
  lastState: string;
}

const dir = mkdtempSync(join(tmpdir(), "halon-bench-nodes-"));
const ids = ["rc1", "rc2", "rc3"];
const children = new Map<string, ChildProcess>();
const ports = new Map<string, number>();

/**
 * Polls every 250 ms: the graph of N nodes is large, and this process also
 * runs the N sessions, which a tighter poll would starve.
 */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!(await check().catch(() => false))) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

async function main(): Promise<void> {
  const nodePort = await freePort();
  for (const id of ids) ports.set(id, await freePort());
  const peer = new Map<string, number>();
  for (const id of ids) peer.set(id, await freePort());
  const nodes: SimNode[] = Array.from({ length: N }, (_, i) => ({
    id: `n${String(i).padStart(5, "0")}`,
    address: `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}:${nodePort}`,
    renewing: true,
    inFlight: false,
    leaderId: "",
    firstAnswerFrom: new Map(),
    epoch: 0,
    epochAt: 0,
    behindSentAt: 0,
    lastState: "",
  }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const config = [
    "cluster: {name: bench-nodes}",
    "raft: {heartbeatMs: 100, electionTimeoutMs: 1000}",
    `liveness: {heartbeatMs: ${HEARTBEAT_MS}, silentAfterMs: ${SILENT_MS}, graceAfterElectionMs: ${GRACE_MS}}`,
    "replicas:",
    ...ids.map(
      (id) =>
        `  - {id: ${id}, grpcAddress: "127.0.0.1:${ports.get(id)}", peerAddress: "127.0.0.1:${peer.get(id)}", dataDir: data/${id}}`,
    ),
    "nodes:",
    ...nodes.map((n, i) => `  - {id: ${n.id}, host: h${i}, grpcAddress: "${n.address}", disks: [d${i}]}`),
    "pools:",
    `  - {id: pool, disks: [${nodes.map((_, i) => `d${i}`).join(", ")}]}`,
  ];
  const configFile = join(dir, "cluster.yaml");
  writeFileSync(configFile, config.join("\n") + "\n");

  // One gRPC server for every simulated node's NodeService, bound to each node's address.
  const server = new Server({ "grpc.max_concurrent_streams": 1_000 });
  const impl: NodeServiceServer = {
    executeCommand: (call, callback) => {
      const n = byId.get(call.request.target);
      const c = call.request.command;
      if (!n || !c) return callback({ code: status.INVALID_ARGUMENT, details: "unknown target" });
      if (c.epochTransition) {
        if (c.epochTransition.epoch > n.epoch) {
          n.epoch = c.epochTransition.epoch;
          n.epochAt = Date.now();
        }
        return callback(null, { ok: true, detail: `epoch ${n.epoch}` });
      }
      callback(null, { ok: true, detail: "nothing to do" });
    },
  };
  server.addService(NodeServiceService, impl);
  for (const n of nodes)
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(n.address, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );

  const built = existsSync("dist/cli/main.js");
  const start = (id: string) => {
    const entry = built ? ["dist/cli/main.js"] : ["--import", "tsx", "src/cli/main.ts"];
    children.set(
      id,
      startProcess(
        process.execPath,
        ["--max-semi-space-size=64", ...entry, "rc", "--config", configFile, "--id", id, "--insecure"],
        join(dir, `${id}.log`),
        { HALON_LOG_FORMAT: "json", HALON_LOG_LEVEL: "warn" },
      ),
    );
  };
  for (const id of ids) start(id);
  const client = new ClusterClient({
    addresses: ids.map((id) => `127.0.0.1:${ports.get(id)}`),
    leaderTimeoutMs: 60_000,
    callTimeoutMs: 30_000,
  });
  const statusOf = (id: string) => client.status(`127.0.0.1:${ports.get(id)}`);
  const leader = async (): Promise<string> => {
    let found = "";
    await until(async () => {
      for (const id of children.keys()) {
        const s = await statusOf(id).catch(() => null);
        if (s?.role === ReplicaRole.REPLICA_ROLE_LEADER) found = id;
      }
      return found !== "";
    }, "a leader");
    return found;
  };
  await leader();
  console.log(`3 replicas up; ${N} simulated node services on port ${nodePort}`);

  // Joins, in batches (what each node service's first event is).
  for (let i = 0; i < N; i += 500)
    await client.submitEvents(
      nodes.slice(i, i + 500).map((n, j) => ({
        id: `${n.id}.1.1.joined`,
        source: n.id,
        nodeJoined: { nodeId: n.id, hostId: `h${i + j}`, address: n.address, epoch: 0 },
      })),
    );

  // Sessions, as the node service keeps them, staggered over the interval.
  const sessionClient = new ClusterClient({ addresses: ids.map((id) => `127.0.0.1:${ports.get(id)}`) });
  let catchUps = 0;
  const renew = (n: SimNode) => {
    if (!n.renewing || n.inFlight) return;
    n.inFlight = true;
    sessionClient
      .renewSession({ nodeId: n.id, epoch: n.epoch, incarnation: "1" }, HEARTBEAT_MS)
      .then(
        (res) => {
          n.leaderId = res.leaderId;
          n.lastState = res.nodeState;
          if (!n.firstAnswerFrom.has(res.leaderId)) n.firstAnswerFrom.set(res.leaderId, Date.now());
          const behind = res.nodeState !== "online" || res.ackedEpoch < n.epoch;
          if (behind && Date.now() - n.behindSentAt > 5 * HEARTBEAT_MS) {
            n.behindSentAt = Date.now();
            catchUps++;
            void sessionClient
              .submitEvents([
                {
                  id: `${n.id}.1.hb${Date.now()}`,
                  source: n.id,
                  nodeHeartbeat: { nodeId: n.id, epoch: n.epoch },
                },
              ])
              .then(
                (r) => {
                  const o = r.results[0];
                  if (o && o.outcome !== 1) console.error(`catch-up of ${n.id}: ${JSON.stringify(o)}`);
                },
                (err: unknown) => console.error(`catch-up of ${n.id} failed: ${String(err)}`),
              );
          }
        },
        () => undefined,
      )
      .finally(() => (n.inFlight = false));
  };
  const timers = nodes.map((n, i) =>
    setTimeout(
      () => {
        renew(n);
        timers[i] = setInterval(() => renew(n), HEARTBEAT_MS);
      },
      Math.floor((i / N) * HEARTBEAT_MS),
    ),
  );

  const onlineSet = async (): Promise<Set<string>> => {
    const g = await client.getGraph();
    return new Set(
      (g.graph?.resources ?? [])
        .filter((r) => r.kind === "Node" && r.attributes.state === JSON.stringify("online"))
        .map((r) => r.id),
    );
  };
  const setupStarted = Date.now();
  await until(async () => (await onlineSet()).size === N, `all ${N} nodes online`, 300_000);
  console.log(
    `all ${N} nodes online after ${Date.now() - setupStarted} ms (${catchUps} catch-up heartbeats so far)`,
  );
  await new Promise((r) => setTimeout(r, 3_000));

  // 1. Idle.
  const catchUpsBeforeIdle = catchUps;
  const lead = await leader();
  const leaderPid = children.get(lead)!.pid!;
  const s0 = await statusOf(lead);
  const cpu0 = cpuTicks(leaderPid);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const s1 = await statusOf(lead);
  const cpu1 = cpuTicks(leaderPid);
  const idleSeconds = (Date.now() - t0) / 1000;
  const idleEntriesPerSecond = (s1.lastLogIndex - s0.lastLogIndex) / idleSeconds;
  const leaderIdleCpuPercent = ((cpu1 - cpu0) / CLK_TCK / idleSeconds) * 100;
  // A node the leader wrongly found silent says it is back: count those at idle.
  const idleFalseSilences = catchUps - catchUpsBeforeIdle;
  console.log(
    `idle: ${idleEntriesPerSecond.toFixed(2)} log entries/s, leader CPU ${leaderIdleCpuPercent.toFixed(1)}% of a core, ${idleFalseSilences} nodes wrongly found silent`,
  );

  // 2. Deaths: VICTIMS nodes stop renewing at once.
  const victims = nodes.slice(0, VICTIMS);
  const diedAt = Date.now();
  for (const v of victims) v.renewing = false;
  const silentAfter = new Map<string, number>();
  await until(
    async () => {
      const online = await onlineSet();
      for (const v of victims)
        if (!silentAfter.has(v.id) && !online.has(v.id)) silentAfter.set(v.id, Date.now() - diedAt);
      return silentAfter.size === victims.length;
    },
    "every victim declared silent",
    120_000,
  );
  const silentSorted = [...silentAfter.values()].sort((a, b) => a - b);
  console.log(
    `death to NodeSilent committed: p50 ${quantile(silentSorted, 0.5)} ms, p99 ${quantile(silentSorted, 0.99)} ms (silentAfterMs ${SILENT_MS})`,
  );
  for (const v of victims) v.renewing = true;
  await until(async () => (await onlineSet()).size === N, "the victims online again", 300_000).catch(
    async (err: unknown) => {
      const g = await client.getGraph();
      const away = (g.graph?.resources ?? [])
        .filter((r) => r.kind === "Node" && r.attributes.state !== JSON.stringify("online"))
        .slice(0, 5)
        .map((r) => ({ id: r.id, ...r.attributes, session: byId.get(r.id)?.lastState }));
      console.error(JSON.stringify(away));
      throw err;
    },
  );

  // 3. A striping error: the epoch transition to every node.
  const epochBefore = (await client.getEpoch()).epoch;
  const stripedAt = Date.now();
  const res = await client.submitEvents([
    { id: "bench-striping", source: "bench", stripingError: { poolId: "pool", diskId: `d${N - 1}` } },
  ]);
  const epochAfter = (await client.getEpoch()).epoch;
  if (epochAfter <= epochBefore)
    throw new Error(`no new epoch (${epochBefore} -> ${epochAfter}): ${JSON.stringify(res.results)}`);
  await until(
    async () => nodes.every((n) => n.epoch >= epochAfter),
    `epoch ${epochAfter} delivered to all`,
    120_000,
  );
  const deliveredMs = Math.max(...nodes.map((n) => n.epochAt)) - stripedAt;
  await until(
    async () => !(await client.getOutbox()).pending.some((c) => c.epochTransition),
    "the epoch acknowledged by all",
    120_000,
  );
  const acknowledgedMs = Date.now() - stripedAt;
  console.log(
    `striping error to epoch ${epochAfter} delivered to all ${N}: ${deliveredMs} ms, acknowledged: ${acknowledgedMs} ms`,
  );

  // 4. Leader SIGKILL: every node finds the new leader.
  const old = await leader();
  const killedAt = Date.now();
  await stopProcess(children.get(old), "SIGKILL");
  children.delete(old);
  const next = await leader();
  await until(
    async () => nodes.every((n) => n.firstAnswerFrom.has(next) && n.firstAnswerFrom.get(next)! >= killedAt),
    "all nodes on the new leader",
    120_000,
  );
  const found = nodes.map((n) => n.firstAnswerFrom.get(next)! - killedAt).sort((a, b) => a - b);
  await new Promise((r) => setTimeout(r, GRACE_MS + SILENT_MS));
  const suspected = N - (await onlineSet()).size;
  console.log(
    `leader ${old} SIGKILLed: all ${N} renewed with ${next} after ${quantile(found, 1)} ms (p50 ${quantile(found, 0.5)} ms); nodes suspected after the failover: ${suspected}`,
  );

  for (const t of timers) clearInterval(t);
  sessionClient.close();
  client.close();
  server.forceShutdown();
  console.log(
    JSON.stringify({
      nodes: N,
      heartbeatMs: HEARTBEAT_MS,
      silentAfterMs: SILENT_MS,
      idleEntriesPerSecond: Number(idleEntriesPerSecond.toFixed(3)),
      leaderIdleCpuPercent: Number(leaderIdleCpuPercent.toFixed(1)),
      idleFalseSilences,
      nodeSilentP50Ms: quantile(silentSorted, 0.5),
      nodeSilentP99Ms: quantile(silentSorted, 0.99),
      epochDeliveredToAllMs: deliveredMs,
      epochAcknowledgedByAllMs: acknowledgedMs,
      failoverAllNodesFoundLeaderMs: quantile(found, 1),
      failoverP50Ms: quantile(found, 0.5),
      suspectedAfterFailover: suspected,
      catchUpHeartbeats: catchUps,
    }),
  );
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const c of children.values()) await stopProcess(c, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    process.exit();
  });
