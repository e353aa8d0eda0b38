// The leader's duties against a real RcStateMachine and real gRPC node
// servers, with Raft replaced by a log that applies each proposal at once:
// topology declared once, ticks, node-silent after the grace period, and
// commands delivered to an address that only starts answering later.
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_DISPATCHER_CONFIG } from "../../src/api/command-dispatcher.js";
import { DEFAULT_RC_DUTIES, RcLeaderDuties, type LeaderView } from "../../src/api/rc-leader-duties.js";
import { clusterConfigSchema, type ClusterConfig } from "../../src/config/index.js";
import { RcApplyResult, RcEntry } from "../../src/gen/halon/v1/events.js";
import { createLogger } from "../../src/log/logger.js";
import { encodeEventBatch, RcStateMachine } from "../../src/rc/index.js";
import { EntryType } from "../../src/raft/types.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { NodeServiceStub } from "../e2e/node-service-stub.js";
import type { ClusterClient } from "../../src/api/cluster-client.js";

/** A one-replica "log": every proposal is applied at once, in order, and the duties told of it. */
class InstantLog implements LeaderView {
  isLeader = true;
  private currentTerm = 1;
  index = 0;
  readonly entries: RcEntry[] = [];
  onApplied: (result: RcApplyResult) => void = () => undefined;
  private readonly observers: { leaderChange?(leader: string | null, term: number): void }[] = [];
  constructor(readonly machine: RcStateMachine) {}
  get term(): number {
    return this.currentTerm;
  }
  /** A new election won by this replica: the observers hear of it, as from RaftNode. */
  set term(t: number) {
    this.currentTerm = t;
    for (const o of this.observers) o.leaderChange?.("rc1", t);
  }
  status() {
    return { term: this.term };
  }
  barrier() {
    return this.isLeader ? Promise.resolve() : Promise.reject(new Error("not the leader"));
  }
  observe(o: { leaderChange?(leader: string | null, term: number): void }) {
    this.observers.push(o);
    return () => undefined;
  }
  propose(payload: Uint8Array) {
    if (!this.isLeader) return Promise.reject(new Error("not the leader"));
    this.entries.push(RcEntry.decode(payload));
    const index = ++this.index;
    const result = this.machine.applyEntry({ index, term: this.term, type: EntryType.Normal, data: payload });
    this.onApplied(result);
    return Promise.resolve({ index, term: this.term, result: RcApplyResult.encode(result).finish() });
  }
  /** An event from outside (a client), like SubmitEvents. */
  submit(...events: Parameters<typeof encodeEventBatch>[1]) {
    return this.propose(encodeEventBatch(Date.now(), events));
  }
}

function config(nodeAddress: string): ClusterConfig {
  return clusterConfigSchema.parse({
    cluster: { name: "unit" },
    replicas: [{ id: "rc1", grpcAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:11", dataDir: "unused" }],
    nodes: [
      {
        id: "node1",
        host: "host1",
        grpcAddress: nodeAddress,
        disks: ["d1"],
        processes: [{ name: "p1", command: "sleep", services: ["s1"] }],
      },
    ],
    pools: [{ id: "pool1", disks: ["d1"] }],
  });
}

const quiet = createLogger({ name: "test", level: "silent", pretty: false });
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function duties(cfg: ClusterConfig, log: InstantLog, overrides: Partial<typeof DEFAULT_RC_DUTIES> = {}) {
  const d = new RcLeaderDuties({
    selfId: "rc1",
    config: () => cfg,
    machine: log.machine,
    duties: {
      ...DEFAULT_RC_DUTIES,
      backoffBaseMs: 50,
      backoffMaxMs: 400,
      dispatcher: DEFAULT_DISPATCHER_CONFIG,
      ...overrides,
    },
    logger: quiet,
  });
  log.onApplied = (result) => d.applied(result);
  cleanups.push(() => d.stop());
  return d;
}

const topologyEntries = (log: InstantLog) =>
  log.entries.filter((e) => e.events?.events.some((ev) => ev.topologyDeclared)).length;

describe("the coordinator leader's duties", () => {
  it("declares the config's topology once, and not again in a later term", async () => {
    const machine = new RcStateMachine();
    const log = new InstantLog(machine);
    duties(config("127.0.0.1:2"), log, { idleTickMs: 100 }).start(log);
    await until(() => machine.graph.has("pool1"), "the topology");
    expect(machine.graph.attr("node1", "state")).toBe("down");
    expect(machine.graph.hasEdge("p1", "provides", "s1")).toBe(true);
    log.term = 2; // a new election: the new term's leader looks again
    const before = log.entries.length;
    await until(() => log.entries.slice(before).some((e) => e.tick), "a tick in the new term");
    expect(topologyEntries(log)).toBe(1);
  });

  it("proposes ticks when log time stands still, and NodeSilent after the grace period", async () => {
    const machine = new RcStateMachine();
    const log = new InstantLog(machine);
    const d = duties(config("127.0.0.1:2"), log, {
      idleTickMs: 100,
      nodeSilentMs: 300,
      electionGraceMs: 200,
    });
    d.start(log);
    await until(() => machine.graph.has("node1"), "the topology");
    const join = {
      id: "j",
      source: "node1",
      nodeJoined: { nodeId: "node1", hostId: "host1", address: "", epoch: 0 },
    };
    // As the replica's SubmitEvents does: the leader hears the node, then the join is applied
    // (without it, a loaded machine may pass the grace and the silence before the join lands).
    d.heard([join]);
    await log.submit(join);
    expect(machine.graph.attr("node1", "state")).toBe("online");
    const t0 = machine.timeMs;
    await until(() => log.entries.some((e) => e.tick) && machine.timeMs > t0, "a tick");
    await until(() => machine.graph.attr("node1", "state") === "transient", "node1 declared silent");
    const silent = log.entries.flatMap((e) => e.events?.events ?? []).filter((e) => e.nodeSilent);
    expect(silent).toHaveLength(1);
    expect(silent[0]!.source).toBe("leader");
  });

  it("retries an unreachable node service with backoff until it answers, then records its answer", async () => {
    const port = await freePort();
    const machine = new RcStateMachine();
    const log = new InstantLog(machine);
    const d = duties(config(`127.0.0.1:${port}`), log, { nodeSilentMs: 600_000 });
    d.start(log);
    await until(() => machine.graph.has("node1"), "the topology");
    await log.submit({
      id: "j",
      source: "node1",
      nodeJoined: { nodeId: "node1", hostId: "host1", address: "", epoch: 0 },
    });
    const start = machine.pendingCommands().find((c) => c.startProcesses);
    expect(start?.target).toBe("node1");
    // Nothing listens yet: deliveries fail. Then the node service comes up on that port.
    await new Promise((r) => setTimeout(r, 300));
    expect(machine.pendingCommands().some((c) => c.id === start!.id)).toBe(true);
    const stub = new NodeServiceStub(
      "node1",
      () => ({ submitEvents: () => Promise.resolve() }) as unknown as ClusterClient,
    );
    cleanups.push(() => stub.stop());
    await stub.start(port);
    await until(() => !machine.pendingCommands().some((c) => c.id === start!.id), "the command acknowledged");
    expect(stub.executed.map((c) => c.id)).toEqual([start!.id]);
    const results = log.entries.flatMap((e) => e.events?.events ?? []).filter((e) => e.commandResult);
    expect(results.map((e) => e.id)).toEqual([`result-${start!.id}-node1`]);
  });

  it("stops acting when it is no longer the leader", async () => {
    const machine = new RcStateMachine();
    const log = new InstantLog(machine);
    log.isLeader = false;
    duties(config("127.0.0.1:2"), log, { idleTickMs: 50 }).start(log);
    await new Promise((r) => setTimeout(r, 300));
    expect(log.entries).toEqual([]);
  });
});
