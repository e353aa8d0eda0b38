// The storage identity behind disk-loss detection: made once when a store is
// new, kept across restarts (LevelDB files and the memory store), new after a
// wipe, and carried by every message the node sends.
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../../../src/raft/core/messages.js";
import type { Transport } from "../../../src/raft/driver/interfaces.js";
import { RaftNode } from "../../../src/raft/driver/raft-node.js";
import { MemoryLogStore } from "../../../src/raft/memory/memory-log-store.js";
import { MemorySnapshotStore } from "../../../src/raft/memory/memory-snapshot-store.js";
import { LevelLogStore } from "../../../src/raft/storage/level-log-store.js";
import { IDENTITY_KEY } from "../../../src/raft/storage/log-records.js";
import { StorageCorruptionError, type LogStore, type StateMachine } from "../../../src/raft/storage.js";
import { makeTempDir } from "../../helpers/temp-dir.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const machine: StateMachine = {
  apply: () => new Uint8Array(),
  snapshot: () => new Uint8Array(),
  restore: () => undefined,
};

function recordingTransport(sent: Message[]): Transport {
  return { send: (ms) => sent.push(...ms), sendSnapshot: () => Promise.resolve(), listen: () => undefined };
}

async function startOn(logStore: LogStore, sent: Message[] = []): Promise<RaftNode> {
  const node = await RaftNode.start({
    id: "a",
    logStore,
    snapshotStore: new MemorySnapshotStore(),
    stateMachine: machine,
    transport: recordingTransport(sent),
    bootstrap: { voters: ["a", "b", "c"], learners: [] },
    config: { heartbeatIntervalMs: 10, electionTimeoutMs: 50 },
  });
  cleanups.push(() => node.stop());
  return node;
}

describe("storage identity", () => {
  it("is made once in a new memory store, kept across a restart, and new after a wipe", async () => {
    const store = new MemoryLogStore();
    const first = await startOn(store);
    const id = first.status().storageId;
    expect(id).toMatch(/^[0-9a-f-]{16,}$/);
    first.stop();
    store.crash();
    expect((await startOn(store)).status().storageId).toBe(id);
    store.wipe();
    const again = (await startOn(store)).status().storageId;
    expect(again).not.toBe(id);
    expect(again).not.toBe("");
  });

  it("is carried by every message the node sends", async () => {
    const sent: Message[] = [];
    const node = await startOn(new MemoryLogStore(), sent);
    await new Promise((r) => setTimeout(r, 300)); // it campaigns: vote requests go out
    expect(sent.length).toBeGreaterThan(0);
    for (const m of sent) expect(m.storage).toBe(node.status().storageId);
  });

  it("lives in the LevelDB files: kept when reopened, new when the directory is rebuilt, corrupt is refused", async () => {
    const t = makeTempDir("halon-identity-");
    cleanups.push(t.remove);
    const open = async (): Promise<{ store: LevelLogStore; id: string }> => {
      const store = new LevelLogStore({ dir: `${t.dir}/log` });
      const node = await startOn(store);
      const id = node.status().storageId;
      node.stop();
      await store.close();
      return { store, id };
    };
    const { id } = await open();
    expect((await open()).id).toBe(id);
    // A flipped byte in the identity record: refused as corruption, not silently replaced.
    const db = new ClassicLevel<Buffer, Buffer>(`${t.dir}/log`, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    const value = await db.get(IDENTITY_KEY);
    value![value!.length - 1]! ^= 1;
    await db.put(IDENTITY_KEY, value!);
    await db.close();
    const store = new LevelLogStore({ dir: `${t.dir}/log` });
    cleanups.push(() => store.close());
    await store.load();
    await expect(store.readIdentity()).rejects.toBeInstanceOf(StorageCorruptionError);
    await store.close();
    // The data directory rebuilt: a new identity.
    t.remove();
    expect((await open()).id).not.toBe(id);
  });
});
