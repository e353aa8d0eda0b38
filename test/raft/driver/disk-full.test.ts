// The driver's full-disk state on the in-memory network, fast and without
// root (test/e2e/full-disk.test.ts does it with real processes and a real full
// tmpfs): a replica whose writes fail with ENOSPC acknowledges nothing, a
// leader hands over first, and both run on by themselves once writes succeed.
import { afterEach, describe, expect, it } from "vitest";
import type { HardState, Entry } from "../../../src/raft/index.js";
import { MemoryLogStore, MemoryNetwork, MemorySnapshotStore, RaftNode } from "../../../src/raft/index.js";
import { ListMachine, text, waitFor } from "../helpers.js";

/** An in-memory log store whose writes fail with ENOSPC while `full` is set, as Node reports it. */
class FillableLogStore extends MemoryLogStore {
  full = false;
  failures = 0;
  override persist(update: { hardState?: HardState; entries?: Entry[] }): Promise<void> {
    if (this.full) {
      this.failures++;
      const err = new Error("ENOSPC: no space left on device, write") as NodeJS.ErrnoException;
      err.code = "ENOSPC";
      return Promise.reject(err);
    }
    return super.persist(update);
  }
}

interface Replica {
  id: string;
  node: RaftNode;
  machine: ListMachine;
  store: FillableLogStore;
  events: string[];
}

let running: Replica[] = [];
const leaderOf = (replicas: Replica[]) => replicas.find((r) => !r.node.isStopped && r.node.isLeader);
afterEach(() => {
  for (const r of running) r.node.stop();
  running = [];
});

async function startCluster(
  ids: string[],
  unsafe?: { acknowledgeBeforePersist: boolean },
): Promise<{ net: MemoryNetwork; replicas: Replica[] }> {
  const net = new MemoryNetwork();
  const replicas: Replica[] = [];
  for (const id of ids) {
    const machine = new ListMachine();
    const store = new FillableLogStore();
    const events: string[] = [];
    const node = await RaftNode.start({
      id,
      logStore: store,
      snapshotStore: new MemorySnapshotStore(),
      stateMachine: machine,
      transport: net.transport(id),
      bootstrap: { voters: ids, learners: [] },
      // A probe every 1000 ms / 10 ms = 100 ticks.
      config: { heartbeatIntervalMs: 10, electionTimeoutMs: 100 },
      unsafe,
      observer: {
        diskFull: (_e, successor) => events.push(`full:${successor ?? "-"}`),
        diskSpaceBack: () => events.push("back"),
        fatal: (e) => events.push(`fatal:${e.message}`),
      },
    });
    replicas.push({ id, node, machine, store, events });
  }
  running = replicas;
  return { net, replicas };
}

describe("RaftNode with a full disk", () => {
  it("a follower that cannot write acknowledges nothing: without it there is no quorum", async () => {
    const { net, replicas } = await startCluster(["a", "b", "c"]);
    await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
    const leader = leaderOf(replicas)!;
    const [full, cut] = replicas.filter((r) => r !== leader) as [Replica, Replica];
    await leader.node.propose(text("before"));
    // As in the planted bug below: the follower's next write is the new entry's.
    await waitFor(() => full.machine.items.includes("before"), 5_000, "the follower to apply");
    await new Promise((r) => setTimeout(r, 50));
    full.store.full = true;
    net.isolate(cut.id, ["a", "b", "c"]);
    const applied = () => replicas.filter((r) => r.machine.items.includes("while full")).length;
    leader.node.propose(text("while full")).catch(() => undefined);
    await waitFor(() => full.node.status().diskFull !== null, 5_000, "the follower to notice");
    // Only the leader holds the entry: it must not commit (the full follower must not ack it).
    // (The leader, hearing from nobody, also steps down after an election timeout: checkQuorum.)
    await new Promise((r) => setTimeout(r, 500));
    expect(applied()).toBe(0);
    expect(full.node.status().diskFull!.error).toMatch(/ENOSPC/);
    expect(full.events).toEqual(["full:-"]);
    // The probe repeats the failed write every second while the disk stays full.
    await waitFor(() => full.store.failures >= 2, 5_000, "a probe while still full");
    expect(applied()).toBe(0);
    expect(full.events).toEqual(["full:-"]);
    full.store.full = false;
    await waitFor(() => applied() === 2, 10_000, "the entry to commit once the follower can write");
    await waitFor(() => full.node.status().diskFull === null, 5_000, "the alarm to clear");
    expect(full.events).toEqual(["full:-", "back"]);
    net.heal();
  });

  it("planted bug: a follower that acknowledges before persisting lets the entry commit while its disk is full", async () => {
    const { net, replicas } = await startCluster(["a", "b", "c"], { acknowledgeBeforePersist: true });
    await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
    const leader = leaderOf(replicas)!;
    const [full, cut] = replicas.filter((r) => r !== leader) as [Replica, Replica];
    await leader.node.propose(text("before"));
    // The follower's write of the new commit index done, its next write is the entry's.
    await waitFor(() => full.machine.items.includes("before"), 5_000, "the follower to apply");
    await new Promise((r) => setTimeout(r, 50));
    full.store.full = true;
    net.isolate(cut.id, ["a", "b", "c"]);
    leader.node.propose(text("while full")).catch(() => undefined);
    // What the test above forbids happens: committed and applied with one durable copy.
    await waitFor(() => leader.machine.items.includes("while full"), 5_000, "the unsafe commit");
    expect(full.store.durableEntries().some((e) => new TextDecoder().decode(e.data) === "while full")).toBe(
      false,
    );
    net.heal();
  });

  it("a leader that cannot write hands over at once, refuses requests, and runs on when space is back", async () => {
    const { replicas } = await startCluster(["a", "b", "c"]);
    await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
    const leader = leaderOf(replicas)!;
    await leader.node.propose(text("one"));
    const term = leader.node.status().term;
    leader.store.full = true;
    const lost = leader.node.propose(text("two")).catch((e: unknown) => String(e));
    const started = Date.now();
    await waitFor(
      () => replicas.some((r) => r !== leader && r.node.isLeader),
      5_000,
      "another replica to lead",
    );
    const handOverMs = Date.now() - started;
    const successor = replicas.find((r) => r !== leader && r.node.isLeader)!;
    // TimeoutNow: the successor campaigns at once, well before an election timeout (100-200 ms here).
    expect(leader.events).toEqual([`full:${successor.id}`]);
    expect(successor.node.status().term).toBe(term + 1);
    expect(handOverMs).toBeLessThan(2_000);
    expect(await lost).toMatch(/outcome is unknown/);
    await expect(leader.node.propose(text("refused"))).rejects.toThrow(/disk of .* is full/);
    await expect(leader.node.readIndex()).rejects.toThrow(/NOSPACE/);
    await successor.node.propose(text("three"));
    leader.store.full = false;
    await waitFor(() => leader.node.status().diskFull === null, 5_000, "the old leader to resume");
    await waitFor(
      () => leader.machine.items.includes("three"),
      10_000,
      "the old leader to catch up from the new one",
    );
    expect(leader.events.some((e) => e.startsWith("fatal"))).toBe(false);
    expect(leader.node.isLeader).toBe(false);
  });
});
