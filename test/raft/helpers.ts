// Shared helpers for the Raft tests: a small state machine and a real-time
// cluster on the in-memory network.
import type { Entry, StateMachine } from "../../src/raft/index.js";
import { MemoryLogStore, MemoryNetwork, MemorySnapshotStore, RaftNode } from "../../src/raft/index.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Appends each entry's text to a list; the result of apply is the list's length. */
export class ListMachine implements StateMachine {
  items: string[] = [];
  apply(entry: Entry): Uint8Array {
    this.items.push(dec.decode(entry.data));
    return enc.encode(String(this.items.length));
  }
  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(dec.decode(data)) as string[];
  }
}

export const text = (s: string): Uint8Array => enc.encode(s);
export const untext = (b: Uint8Array): string => dec.decode(b);

export interface LiveReplica {
  id: string;
  node: RaftNode;
  machine: ListMachine;
  logStore: MemoryLogStore;
  snapshotStore: MemorySnapshotStore;
}

/** Waits until `cond` holds, polling; fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function startLiveCluster(
  ids: string[],
  config: Parameters<typeof RaftNode.start>[0]["config"] = {},
  makeMachine: () => ListMachine = () => new ListMachine(),
): Promise<{ net: MemoryNetwork; replicas: LiveReplica[] }> {
  const net = new MemoryNetwork();
  const replicas: LiveReplica[] = [];
  for (const id of ids) {
    const machine = makeMachine();
    const logStore = new MemoryLogStore();
    const snapshotStore = new MemorySnapshotStore();
    const node = await RaftNode.start({
      id,
      logStore,
      snapshotStore,
      stateMachine: machine,
      transport: net.transport(id),
      bootstrap: { voters: ids, learners: [] },
      config: { heartbeatIntervalMs: 10, electionTimeoutMs: 100, ...config },
    });
    replicas.push({ id, node, machine, logStore, snapshotStore });
  }
  return { net, replicas };
}

export function leaderOf(replicas: LiveReplica[]): LiveReplica | undefined {
  return replicas.find((r) => !r.node.isStopped && r.node.isLeader);
}
