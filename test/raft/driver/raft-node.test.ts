// The driver on the in-memory network with real timers: the end-to-end path a
// host uses (propose, apply, reads, errors), with generous timeouts.
import { afterEach, describe, expect, it } from "vitest";
import {
  NotLeaderError,
  RaftConfigError,
  RaftNode,
  MemoryLogStore,
  MemorySnapshotStore,
  MemoryNetwork,
} from "../../../src/raft/index.js";
import type { LiveReplica } from "../helpers.js";
import { ListMachine, leaderOf, startLiveCluster, text, untext, waitFor } from "../helpers.js";

let running: LiveReplica[] = [];
afterEach(() => {
  for (const r of running) r.node.stop();
  running = [];
});

describe("RaftNode (driver)", () => {
  it("elects a leader, commits proposals on every replica and answers with the machine's result", async () => {
    const { replicas } = await startLiveCluster(["a", "b", "c"]);
    running = replicas;
    await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
    const leader = leaderOf(replicas) as LiveReplica;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => leader.node.propose(text(`v${i}`))),
    );
    expect(
      results
        .map((a) => untext(a.result))
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await waitFor(
      () => replicas.every((r) => r.machine.items.length === 50),
      10_000,
      "all replicas to apply",
    );
    for (const r of replicas) expect(r.machine.items).toEqual(leader.machine.items);
    // Each proposal learns where its entry landed: the entry there holds its payload, in the leader's term.
    const term = leader.node.status().term;
    const log = (await leader.logStore.load()).entries;
    for (const [i, a] of results.entries()) {
      expect(a.term).toBe(term);
      expect(untext(log.find((e) => e.index === a.index)!.data)).toBe(`v${i}`);
    }
  });

  it("rejects a proposal on a follower with NotLeaderError naming the leader", async () => {
    const { replicas } = await startLiveCluster(["a", "b", "c"]);
    running = replicas;
    await waitFor(() => leaderOf(replicas) !== undefined && replicas.every((r) => r.node.leader !== null));
    const leader = leaderOf(replicas) as LiveReplica;
    const follower = replicas.find((r) => r !== leader) as LiveReplica;
    const err = await follower.node.propose(text("x")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotLeaderError);
    expect((err as NotLeaderError).leader).toBe(leader.id);
  });

  it("serves a linearizable read index on the leader and on a follower", async () => {
    const { replicas } = await startLiveCluster(["a", "b", "c"]);
    running = replicas;
    await waitFor(() => leaderOf(replicas) !== undefined && replicas.every((r) => r.node.leader !== null));
    const leader = leaderOf(replicas) as LiveReplica;
    await leader.node.propose(text("one"));
    const idx = await leader.node.readIndex();
    // bootstrap entry, the leader's no-op and "one" are all committed before the read point.
    expect(idx).toBeGreaterThanOrEqual(3);
    const follower = replicas.find((r) => r !== leader) as LiveReplica;
    const fidx = await follower.node.readIndex();
    expect(fidx).toBeGreaterThanOrEqual(idx);
    expect(follower.machine.items).toContain("one");
  });

  it("validates its configuration with errors that name the field", async () => {
    const net = new MemoryNetwork();
    const start = (config: object) =>
      RaftNode.start({
        id: "a",
        logStore: new MemoryLogStore(),
        snapshotStore: new MemorySnapshotStore(),
        stateMachine: new ListMachine(),
        transport: net.transport("a"),
        config,
      });
    await expect(start({ electionTimeoutMs: 100, heartbeatIntervalMs: 100 })).rejects.toThrow(
      RaftConfigError,
    );
    await expect(start({ maxInflightMessages: 0 })).rejects.toThrow(/maxInflightMessages/);
    await expect(start({ snapshotThreshold: -1 })).rejects.toThrow(/snapshotThreshold/);
  });

  it("drops malformed messages and reports them instead of crashing", async () => {
    const { replicas } = await startLiveCluster(["a"]);
    running = replicas;
    const bad: string[] = [];
    const r = replicas[0] as LiveReplica;
    r.node.observe({ badMessage: (why) => bad.push(why) });
    r.node.receive({ type: 99 } as never);
    r.node.receive({ type: 1, from: "b", to: "a", term: -1 } as never);
    expect(bad.length).toBe(2);
    await waitFor(() => r.node.isLeader);
    expect(untext((await r.node.propose(text("after"))).result)).toBe("1");
  });
});

describe("RaftNode transport feedback", () => {
  it("reports an unreachable peer to observers and keeps replicating to it afterwards", async () => {
    const { replicas } = await startLiveCluster(["a", "b", "c"]);
    running = replicas;
    await waitFor(() => leaderOf(replicas) !== undefined);
    const leader = leaderOf(replicas) as LiveReplica;
    const peer = replicas.find((r) => r !== leader) as LiveReplica;
    const seen: string[] = [];
    leader.node.observe({ peerUnreachable: (p) => seen.push(p) });
    leader.node.reportUnreachable(peer.id, "stream broke");
    expect(seen).toEqual([peer.id]);
    await leader.node.propose(text("after"));
    await waitFor(() => peer.machine.items.includes("after"), 10_000, "the peer to catch up");
  });
});

describe("RaftNode store failures", () => {
  it("stops itself and reports a failing disk instead of acknowledging anything", async () => {
    const net = new MemoryNetwork();
    const logStore = new MemoryLogStore();
    const fatal: Error[] = [];
    const node = await RaftNode.start({
      id: "a",
      logStore,
      snapshotStore: new MemorySnapshotStore(),
      stateMachine: new ListMachine(),
      transport: net.transport("a"),
      bootstrap: { voters: ["a"], learners: [] },
      config: { heartbeatIntervalMs: 10, electionTimeoutMs: 100 },
      observer: { fatal: (e) => fatal.push(e) },
    });
    running = [
      { id: "a", node, machine: new ListMachine(), logStore, snapshotStore: new MemorySnapshotStore() },
    ];
    await waitFor(() => node.isLeader);
    logStore.persist = () => Promise.reject(new Error("disk on fire"));
    const outcome = await node.propose(text("x")).then(
      () => "acknowledged",
      (e: unknown) => (e as Error).name,
    );
    expect(outcome).toBe("RaftStoppedError");
    expect(fatal.map((e) => e.message)).toEqual(["disk on fire"]);
    expect(node.isStopped).toBe(true);
  });
});
