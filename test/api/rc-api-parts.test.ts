// The parts of the coordinator's API that need no process: the topology a
// config declares, the graph-watch hub, and graph views.
import { describe, expect, it } from "vitest";
import { changeMessage, neighbourhood, wholeGraph } from "../../src/api/graph-view.js";
import { GraphWatchHub } from "../../src/api/graph-watch-hub.js";
import { rcConfigOf, RcRuntime } from "../../src/api/rc-runtime.js";
import { declaredTopology, topologyEvent, topologyPresent } from "../../src/api/topology-seed.js";
import { clusterConfigSchema } from "../../src/config/index.js";
import { GraphChangeOp } from "../../src/gen/halon/v1/client.js";
import { DEFAULT_RC_CONFIG, encodeEventBatch, RcStateMachine } from "../../src/rc/index.js";
import { createLogger } from "../../src/log/logger.js";
import { EntryType } from "../../src/raft/types.js";
import { until } from "../e2e/cluster-harness.js";

function config(processName2 = "p2") {
  return clusterConfigSchema.parse({
    cluster: { name: "parts" },
    replicas: [{ id: "rc1", grpcAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:11", dataDir: "unused" }],
    nodes: [
      {
        id: "n1",
        host: "h1",
        grpcAddress: "127.0.0.1:2",
        rack: "r1",
        disks: ["d1"],
        processes: [{ name: "p1", command: "run", args: ["-x"], services: ["s"] }],
      },
      {
        id: "n2",
        host: "h2",
        grpcAddress: "127.0.0.1:3",
        disks: ["d2"],
        processes: [{ name: processName2, command: "run", services: ["s"] }],
      },
    ],
    pools: [{ id: "pool", disks: ["d1", "d2"] }],
  });
}

describe("the topology a cluster config declares", () => {
  it("has an id derived from its content", () => {
    expect(topologyEvent(config()).id).toBe(topologyEvent(config()).id);
    expect(topologyEvent(config()).id).not.toBe(topologyEvent(config("p3")).id);
    expect(topologyEvent(config()).id).toMatch(/^topology-[0-9a-f]{24}$/);
  });

  it("names a process used on several nodes after its node", () => {
    const t = declaredTopology(config("p1"));
    expect(t.hosts.flatMap((h) => h.processes.map((p) => p.id))).toEqual(["n1.p1", "n2.p1"]);
    expect(t.hosts[0]!.processes[0]!.command).toBe("run -x");
  });

  it("is folded into the graph by the state machine, and then found present", () => {
    const sm = new RcStateMachine();
    const event = topologyEvent(config());
    expect(topologyPresent(sm.graph, event.topologyDeclared!)).toBe(false);
    sm.apply({ index: 1, term: 1, type: EntryType.Normal, data: encodeEventBatch(1, [event]) });
    expect(topologyPresent(sm.graph, event.topologyDeclared!)).toBe(true);
    expect(sm.graph.neighbour("h1", "has", "in")).toBe("enclosure-0");
    expect(sm.graph.attr("cluster", "name")).toBe("parts");
    expect(topologyPresent(sm.graph, topologyEvent(config("p3")).topologyDeclared!)).toBe(false);
  });
});

describe("the coordinator's tunables", () => {
  it("come from the config's recovery block, defaults for the rest", () => {
    expect(rcConfigOf(config())).toEqual(DEFAULT_RC_CONFIG);
    const c = { ...config(), recovery: { processRespawnBudget: 7, dedupRetentionMs: 1_000 } };
    expect(rcConfigOf(c)).toEqual({ ...DEFAULT_RC_CONFIG, processRespawnBudget: 7, dedupRetentionMs: 1_000 });
  });
});

describe("graph views", () => {
  it("show the whole graph and one resource's neighbourhood, values as JSON", () => {
    const sm = new RcStateMachine();
    sm.apply({
      index: 1,
      term: 1,
      type: EntryType.Normal,
      data: encodeEventBatch(1, [topologyEvent(config())]),
    });
    const whole = wholeGraph(sm.graph);
    expect(whole.resources.map((r) => r.id)).toEqual([...whole.resources.map((r) => r.id)].sort());
    expect(whole.resources.find((r) => r.id === "pool")!.attributes.failureVector).toBe("[]");
    const n = neighbourhood(sm.graph, "n1")!;
    expect(n.resources.map((r) => r.id)).toEqual(["h1", "n1", "p1"]);
    expect(n.edges).toEqual([
      { from: "h1", relation: "runs", to: "n1" },
      { from: "n1", relation: "runs", to: "p1" },
    ]);
    expect(neighbourhood(sm.graph, "nothing")).toBeNull();
  });

  it("turn a change into a message", () => {
    expect(changeMessage({ op: "set", id: "x", key: "state", value: "online", old: null })).toMatchObject({
      op: GraphChangeOp.GRAPH_CHANGE_OP_SET,
      valueJson: '"online"',
      oldJson: "",
    });
  });
});

describe("the graph-watch hub", () => {
  const change = changeMessage({ op: "connect", from: "a", relation: "r", to: "b" });

  it("replays what a watcher missed, and says when it no longer has it", () => {
    const hub = new GraphWatchHub(3);
    for (let i = 1; i <= 4; i++) hub.publish(i, [change]);
    expect(hub.since(2)?.map((x) => x.index)).toEqual([3, 4]);
    expect(hub.since(0)).toBeNull();
    hub.reset(10);
    expect(hub.since(4)).toBeNull();
    expect(hub.since(10)).toEqual([]);
  });

  it("tells subscribers of each entry and of a reset", () => {
    const hub = new GraphWatchHub();
    const seen: unknown[] = [];
    const off = hub.subscribe((u) => seen.push("reset" in u ? "reset" : u.index));
    hub.publish(5, [change]);
    hub.reset(9);
    off();
    hub.publish(10, [change]);
    expect(seen).toEqual([5, "reset"]);
  });
});

describe("the coordinator inside a replica", () => {
  it("publishes each applied entry's changes, and a reset when a snapshot is installed", async () => {
    const logger = createLogger({ name: "t", level: "silent", pretty: false });
    const runtime = new RcRuntime({ selfId: "rc1", config: () => config(), logger });
    const seen: unknown[] = [];
    runtime.hub.subscribe((u) => seen.push("reset" in u ? "reset" : u.index));
    const data = encodeEventBatch(1, [topologyEvent(config())]);
    runtime.stateMachine.apply({ index: 1, term: 1, type: EntryType.Normal, data });
    const other = new RcStateMachine();
    other.apply({ index: 1, term: 1, type: EntryType.Normal, data });
    other.apply({
      index: 2,
      term: 1,
      type: EntryType.Normal,
      data: encodeEventBatch(2, [{ id: "x", source: "op", diskFailed: { diskId: "d1" } }]),
    });
    runtime.stateMachine.restore(other.snapshot());
    expect(seen).toEqual([1, "reset"]);
    expect(runtime.hub.since(1)).toBeNull();
    // The installed state's hash, computed in the background: the hash from before the install is forgotten.
    expect(runtime.stateMachine.summary()?.count ?? 2).toBe(2);
    await until(
      () => runtime.stateMachine.summary() !== undefined,
      "the hash of the installed state",
      10_000,
    );
    expect(runtime.stateMachine.summary()).toEqual(other.summary());
    runtime.stop();
  });
});
