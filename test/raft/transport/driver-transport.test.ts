// The driver-facing transport: core messages and snapshots between two real servers.
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { MessageType, makeMessage, type Message } from "../../../src/raft/core/messages.js";
import { GrpcTransport } from "../../../src/raft/transport/grpc-transport.js";
import { RaftGrpcTransport } from "../../../src/raft/transport/driver-transport.js";
import { EntryType } from "../../../src/raft/types.js";

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

async function start(id: string): Promise<{ t: RaftGrpcTransport; port: number; got: Message[] }> {
  const got: Message[] = [];
  const t = new RaftGrpcTransport({ selfId: id, peers: {}, backoff: { baseMs: 20, factor: 2, maxMs: 200 } });
  t.listen((m) => got.push(m));
  const server = new Server(GrpcTransport.serverOptions());
  server.addService(t.grpc.service.definition, t.grpc.service.implementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  cleanups.push(() => {
    t.close();
    server.forceShutdown();
  });
  return { t, port, got };
}

async function until(check: () => boolean): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > 15_000) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("RaftGrpcTransport", () => {
  it("delivers core messages and snapshots as core messages", async () => {
    const a = await start("a");
    const b = await start("b");
    const peers = { a: `127.0.0.1:${a.port}`, b: `127.0.0.1:${b.port}` };
    a.t.setPeers(peers);
    b.t.setPeers(peers);
    const append = makeMessage(MessageType.Append, "a", "b", {
      term: 2,
      index: 4,
      logTerm: 1,
      entries: [{ index: 5, term: 2, type: EntryType.Normal, data: new Uint8Array([7]) }],
    });
    a.t.send([append]);
    await until(() => b.got.length === 1);
    expect(b.got[0]).toMatchObject({ type: MessageType.Append, from: "a", term: 2, index: 4 });
    expect([...b.got[0]!.entries[0]!.data]).toEqual([7]);

    const snapshot = {
      meta: { index: 50, term: 2, membership: { voters: ["a", "b"], learners: [] } },
      data: new Uint8Array(300_000).fill(3),
    };
    await a.t.sendSnapshot(makeMessage(MessageType.Snapshot, "a", "b", { term: 2, snapshot }));
    expect(b.got).toHaveLength(2);
    expect(b.got[1]!.snapshot!.meta).toEqual(snapshot.meta);
    expect(b.got[1]!.snapshot!.data.length).toBe(300_000);
  });
});
