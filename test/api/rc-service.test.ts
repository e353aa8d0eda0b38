// The coordinator's client calls over real gRPC, with a real RcStateMachine
// behind a fake replica that applies each proposal at once: outcomes, every
// kind of bad input, the follower's redirection, watching, and a replica that
// runs the hash-chain machine instead.
import { status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { changeMessage } from "../../src/api/graph-view.js";
import { GraphWatchHub } from "../../src/api/graph-watch-hub.js";
import { createHalonService, DEFAULT_LIMITS } from "../../src/api/halon-service.js";
import { DEFAULT_RC_LIMITS, type RcAccess } from "../../src/api/rc-service.js";
import type { ReplicaControl } from "../../src/api/replica-control.js";
import { ReplicaServer } from "../../src/api/replica-server.js";
import { topologyEvent } from "../../src/api/topology-seed.js";
import { clusterConfigSchema } from "../../src/config/index.js";
import { ReplicaStatus, type GraphUpdate } from "../../src/gen/halon/v1/client.js";
import { EventOutcome, type Event } from "../../src/gen/halon/v1/events.js";
import { encodeEventBatch, History, RcStateMachine } from "../../src/rc/index.js";
import { NotLeaderError } from "../../src/raft/core/errors.js";
import { GrpcTransport } from "../../src/raft/transport/grpc-transport.js";
import { EntryType } from "../../src/raft/types.js";
import { until } from "../e2e/cluster-harness.js";

const hub = new GraphWatchHub();
const history = new History();
const machine = new RcStateMachine({
  onGraphChanges: (index, changes) => hub.publish(index, changes.map(changeMessage)),
  onTrace: (trace) => history.record(trace),
});
const heard: Event[] = [];
const rc: RcAccess = {
  machine,
  hub,
  history,
  heard: (events) => heard.push(...events),
  heardFrom: () => undefined,
  now: () => Date.now(),
  stateHash: () => `${machine.lastApplied}:${machine.stateHash()}`,
};
let leading = true;
let index = 0;

const control: ReplicaControl = {
  id: "rc1",
  propose: (payload) => {
    if (!leading) return Promise.reject(new NotLeaderError("rc2"));
    index++;
    const result = machine.apply({ index, term: 1, type: EntryType.Normal, data: payload });
    return Promise.resolve({ index, term: 1, result });
  },
  status: () => ReplicaStatus.fromPartial({ id: "rc1" }),
  changeMembership: () => Promise.reject(new Error("unused")),
  transferLeadership: () => Promise.reject(new Error("unused")),
  addressOf: (id) => (id === "rc2" ? "127.0.0.1:7777" : null),
  readBarrier: () => Promise.resolve(),
};

const config = clusterConfigSchema.parse({
  cluster: { name: "svc" },
  replicas: [{ id: "rc1", grpcAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:11", dataDir: "unused" }],
  nodes: [{ id: "n1", host: "h1", grpcAddress: "127.0.0.1:2", disks: ["d1", "d2"] }],
  pools: [{ id: "pool", disks: ["d1", "d2"] }],
});

function server(access: RcAccess | null): ReplicaServer {
  const transport = new GrpcTransport({
    selfId: "rc1",
    peers: {},
    onMessages: () => undefined,
    onSnapshot: () => Promise.resolve({ term: 0, accepted: false }),
  });
  return new ReplicaServer({
    address: "127.0.0.1:0",
    peerAddress: "127.0.0.1:0",
    halon: createHalonService(control, DEFAULT_LIMITS, access, {
      ...DEFAULT_RC_LIMITS,
      maxEvents: 5,
      maxBatchBytes: 4_000,
    }),
    peer: transport.service,
  });
}

const fail = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as ServiceError,
  );

describe("the coordinator's client calls", () => {
  const rcServer = server(rc);
  const plainServer = server(null);
  let client: ClusterClient;
  let plain: ClusterClient;
  let address = "";

  beforeAll(async () => {
    address = `127.0.0.1:${await rcServer.start()}`;
    const plainAddress = `127.0.0.1:${await plainServer.start()}`;
    client = new ClusterClient({ addresses: [address], leaderTimeoutMs: 1 });
    plain = new ClusterClient({ addresses: [plainAddress], leaderTimeoutMs: 1 });
    machine.apply({
      index: ++index,
      term: 1,
      type: EntryType.Normal,
      data: encodeEventBatch(1, [topologyEvent(config)]),
    });
  });

  afterAll(async () => {
    client.close();
    plain.close();
    await rcServer.stop();
    await plainServer.stop();
  });

  it("answers each event's outcome, and a resubmission as a duplicate", async () => {
    const ev: Event = { id: "s1", source: "n1", stripingError: { poolId: "pool", diskId: "d1" } };
    const first = await client.submitEvents([ev, { id: "bad", source: "x", diskFailed: { diskId: "zz" } }]);
    expect(first.results.map((r) => [r.eventId, r.outcome, r.code])).toEqual([
      ["s1", EventOutcome.EVENT_OUTCOME_APPLIED, ""],
      ["bad", EventOutcome.EVENT_OUTCOME_REJECTED, "unknown-resource"],
    ]);
    expect(heard.map((e) => e.id)).toContain("s1");
    const again = await client.submitEvents([ev]);
    expect(again.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_DUPLICATE);
    expect((await client.getEpoch()).epoch).toBe(1);
    expect((await client.getEpoch()).pools).toEqual([{ poolId: "pool", epoch: 1, failedDiskIds: ["d1"] }]);
  });

  it("answers history and explain over gRPC, about one resource, and refuses bad ids", async () => {
    const all = await client.getHistory();
    expect(all.replicaId).toBe("rc1");
    expect(all.appliedIndex).toBe(machine.lastApplied);
    const causes = all.entries.map((e) => e.cause);
    expect(causes).toContain("event s1 stripingError [d1, pool] from n1: applied");
    expect(causes).toContain('event bad diskFailed [zz] from x: rejected unknown-resource: no resource "zz"');
    // The resubmission is kept too: it was not applied, and an operator may ask why.
    expect(causes).toContain("event s1 stripingError [d1, pool] from n1: duplicate (already applied)");
    const aboutD1 = await client.getHistory("d1", 1);
    expect(aboutD1.entries).toHaveLength(1);
    expect(aboutD1.entries[0]!.resourceIds).toContain("d1");
    const x = await client.explain("d1");
    expect(x.resource?.attributes.state).toBe('"failed"');
    expect(x.summary).toMatch(/^Disk d1 is "failed" since entry \d+: event s1 stripingError/);
    expect(x.steps.at(-1)!.steps).toContain('  set d1.state = "failed" (was "online")');
    expect(JSON.parse(x.steps.at(-1)!.detailJson)).toMatchObject({ cause: { kind: "event", eventId: "s1" } });
    expect((await fail(client.explain("nothing")))?.code).toBe(status.NOT_FOUND);
    expect((await fail(client.explain("has space")))?.code).toBe(status.INVALID_ARGUMENT);
    expect((await fail(client.getHistory("has space")))?.code).toBe(status.INVALID_ARGUMENT);
  });

  it("refuses bad batches with the field, and big ones as exhausted", async () => {
    expect((await fail(client.submitEvents([])))?.code).toBe(status.INVALID_ARGUMENT);
    const noId = await fail(
      client.submitEvents([
        { id: "a", source: "" },
        { id: "", source: "" },
      ]),
    );
    expect(noId?.code).toBe(status.INVALID_ARGUMENT);
    expect(noId?.details).toContain("events[1].id");
    const six = Array.from({ length: 6 }, (_, i) => ({ id: `e${i}`, source: "" }));
    expect((await fail(client.submitEvents(six)))?.code).toBe(status.RESOURCE_EXHAUSTED);
    const big = [{ id: "big", source: "", opaque: { type: "blob", payload: Buffer.alloc(5_000) } }];
    const tooBig = await fail(client.submitEvents(big));
    expect(tooBig?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(tooBig?.details).toContain("over the limit of 4000");
    expect((await fail(client.getGraph("has space")))?.code).toBe(status.INVALID_ARGUMENT);
    expect((await fail(client.getGraph("nothing")))?.code).toBe(status.NOT_FOUND);
  });

  it("names the leader's address on a follower", async () => {
    leading = false;
    // Its own client: one that followed the hint would go to the (absent) leader next.
    const once = new ClusterClient({ addresses: [address], leaderTimeoutMs: 1 });
    try {
      const err = await fail(once.submitEvents([{ id: "f", source: "" }]));
      expect(err?.code).toBe(status.FAILED_PRECONDITION);
      expect(err?.details).toContain("the leader is rc2 at 127.0.0.1:7777");
    } finally {
      leading = true;
      once.close();
    }
  });

  it("streams the whole graph, then each entry's changes; resumes from an index", async () => {
    const updates: GraphUpdate[] = [];
    const stream = client.watchGraph(address, 0);
    stream.on("data", (u: GraphUpdate) => updates.push(u));
    stream.on("error", () => undefined);
    try {
      await until(() => updates.length > 0, "the whole graph");
      expect(updates[0]!.graph?.resources.some((r) => r.id === "pool")).toBe(true);
      const from = updates[0]!.index;
      await client.submitEvents([{ id: "r1", source: "op", diskReplaced: { diskId: "d1", serial: "new" } }]);
      await until(() => updates.length > 1, "a change");
      expect(updates[1]!.index).toBeGreaterThan(from);
      expect(updates[1]!.changes.some((c) => c.id === "d1" && c.key === "serial")).toBe(true);
      const resumed: GraphUpdate[] = [];
      const again = client.watchGraph(address, from);
      again.on("data", (u: GraphUpdate) => resumed.push(u));
      again.on("error", () => undefined);
      await until(() => resumed.length > 0, "the missed changes");
      again.cancel();
      expect(resumed[0]!.graph).toBeUndefined();
      expect(resumed[0]!.index).toBe(updates[1]!.index);
    } finally {
      stream.cancel();
    }
  });

  it("refuses the coordinator's calls on a replica that runs the hash-chain machine", async () => {
    expect((await fail(plain.getGraph()))?.code).toBe(status.FAILED_PRECONDITION);
    expect((await fail(plain.getHistory()))?.code).toBe(status.FAILED_PRECONDITION);
    expect((await fail(plain.explain("d1")))?.code).toBe(status.FAILED_PRECONDITION);
    const err = await new Promise<ServiceError>((resolve) => {
      const s = plain.watchGraph(`127.0.0.1:${plainServer.port}`, 0);
      s.on("error", resolve);
      s.on("data", () => undefined);
    });
    expect(err.code).toBe(status.FAILED_PRECONDITION);
  });
});
