// The gRPC transport between real servers on 127.0.0.1: batching, snapshots in
// chunks, bad input answered with a status, reconnection, and mutual TLS.
import { Client, credentials, Server, status, type ServiceError } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { RaftMessageType, SnapshotChunk, type RaftMessage } from "../../../src/gen/halon/v1/raft.js";
import {
  GrpcTransport,
  type GrpcTransportOptions,
  type ReceivedSnapshot,
} from "../../../src/raft/transport/grpc-transport.js";
import { serverCredentials, type TlsMaterial } from "../../../src/raft/transport/tls.js";
import { makeTempDir } from "../../helpers/temp-dir.js";
import { hasOpenssl, makeCertificates, readTls } from "./tls-fixtures.js";

interface Node {
  id: string;
  transport: GrpcTransport;
  server: Server;
  port: number;
  received: RaftMessage[];
  snapshots: ReceivedSnapshot[];
  unreachable: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function bind(server: Server, port: number, tls?: TlsMaterial): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, serverCredentials(tls), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.forceShutdown();
    resolve();
  });
}

async function startNode(
  id: string,
  opts: { port?: number; tls?: TlsMaterial; extra?: Partial<GrpcTransportOptions> } = {},
): Promise<Node> {
  const node = { id, received: [], snapshots: [], unreachable: [] } as unknown as Node;
  node.transport = new GrpcTransport({
    selfId: id,
    peers: {},
    tls: opts.tls,
    onMessages: (ms) => node.received.push(...ms),
    onSnapshot: (s) => {
      node.snapshots.push(s);
      return Promise.resolve({ term: s.header.term, accepted: true });
    },
    onUnreachable: (p) => node.unreachable.push(p),
    backoff: { baseMs: 20, factor: 2, maxMs: 200 },
    ...opts.extra,
  });
  node.server = new Server(GrpcTransport.serverOptions());
  const { definition, implementation } = node.transport.service;
  node.server.addService(definition, implementation);
  node.port = await bind(node.server, opts.port ?? 0, opts.tls);
  cleanups.push(() => {
    node.transport.close();
    return stopServer(node.server);
  });
  return node;
}

function connect(nodes: Node[]): void {
  const peers = Object.fromEntries(nodes.map((n) => [n.id, `127.0.0.1:${n.port}`]));
  for (const n of nodes) n.transport.setPeers(peers);
}

function message(from: string, to: string, index: number, entries = 0): RaftMessage {
  return {
    type: RaftMessageType.RAFT_MESSAGE_TYPE_APPEND,
    from,
    to,
    term: 1,
    logTerm: 1,
    index,
    entries: Array.from({ length: entries }, (_, i) => ({
      term: 1,
      index: index + 1 + i,
      type: 0,
      data: Buffer.alloc(256, i),
    })),
    commit: 0,
    reject: false,
    rejectHint: 0,
    hintTerm: 0,
    storageId: "",
    context: Buffer.alloc(0),
  };
}

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("GrpcTransport", () => {
  it("delivers messages in order, many per frame", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    connect([a, b]);
    for (let i = 0; i < 500; i++) a.transport.send([message("a", "b", i, i % 3)]);
    await until(() => b.received.length === 500, "500 messages");
    expect(b.received.map((m) => m.index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(b.received[2]!.entries).toHaveLength(2);
    expect(b.received[2]!.entries[1]!.data.length).toBe(256);
    // All 500 were sent in one turn of the event loop, so they share a frame or a few.
    expect(a.transport.stats().b!.framesSent).toBeLessThan(10);
  });

  it("carries messages both ways between three replicas", async () => {
    const nodes = await Promise.all(["a", "b", "c"].map((id) => startNode(id)));
    connect(nodes);
    for (const from of nodes) {
      from.transport.send(nodes.filter((n) => n !== from).map((to) => message(from.id, to.id, 1)));
    }
    await until(() => nodes.every((n) => n.received.length === 2), "two messages at each replica");
    expect(nodes[0]!.received.map((m) => m.from).sort()).toEqual(["b", "c"]);
  });

  it("drops messages for unknown peers without throwing", async () => {
    const a = await startNode("a");
    expect(() => a.transport.send([message("a", "nobody", 1)])).not.toThrow();
  });

  it("reconnects after the peer restarts on the same port", async () => {
    const a = await startNode("a");
    const b1 = await startNode("b");
    connect([a, b1]);
    a.transport.send([message("a", "b", 1)]);
    await until(() => b1.received.length === 1, "first message");
    const port = b1.port;
    b1.transport.close();
    await stopServer(b1.server);
    // Sent while b is down: the stream breaks and a reports b unreachable.
    a.transport.send([message("a", "b", 2)]);
    await until(() => a.unreachable.includes("b"), "unreachable report");
    const b2 = await startNode("b", { port });
    // Raft retransmits; so does this test, until the new stream is up.
    await until(() => {
      if (b2.received.length === 0) a.transport.send([message("a", "b", 3)]);
      return b2.received.length > 0;
    }, "a message after the restart");
    expect(b2.received.at(-1)!.index).toBe(3);
  });

  it("refuses a stream addressed to another replica with FAILED_PRECONDITION", async () => {
    const a = await startNode("a");
    const b = await startNode("b");
    // a believes the replica at b's address is "c".
    a.transport.setPeers({ c: `127.0.0.1:${b.port}` });
    a.transport.send([message("a", "c", 1)]);
    await until(() => a.unreachable.includes("c"), "the stream to be refused");
    expect(b.received).toHaveLength(0);
  });

  it("streams a snapshot in chunks and verifies it", async () => {
    const a = await startNode("a", { extra: { snapshotChunkBytes: 64 * 1024 } });
    const b = await startNode("b");
    connect([a, b]);
    const data = new Uint8Array(1_000_003).map((_, i) => (i * 7) & 0xff);
    const header = { ...message("a", "b", 0), type: RaftMessageType.RAFT_MESSAGE_TYPE_SNAPSHOT, term: 4 };
    const answer = await a.transport.sendSnapshot(
      "b",
      header,
      { index: 99, term: 4, configuration: Buffer.from("{}") },
      data,
    );
    expect(answer).toEqual({ term: 4, accepted: true, error: "" });
    expect(b.snapshots).toHaveLength(1);
    expect(b.snapshots[0]!.meta).toMatchObject({ index: 99, term: 4, size: data.length });
    expect(Buffer.from(b.snapshots[0]!.data).equals(Buffer.from(data))).toBe(true);
    expect(b.snapshots[0]!.header.term).toBe(4);
  });

  it("answers RESOURCE_EXHAUSTED for a snapshot over the receiver's limit", async () => {
    const a = await startNode("a");
    const b = await startNode("b", { extra: { maxSnapshotBytes: 1000 } });
    connect([a, b]);
    const header = { ...message("a", "b", 0), type: RaftMessageType.RAFT_MESSAGE_TYPE_SNAPSHOT };
    const err = (await a.transport
      .sendSnapshot("b", header, { index: 5, term: 1, configuration: Buffer.alloc(0) }, new Uint8Array(5000))
      .catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/over the limit of 1000/);
    expect(b.snapshots).toHaveLength(0);
  });

  it("answers garbage and out-of-order snapshot chunks with a status, and keeps serving", async () => {
    const b = await startNode("b");
    const raw = new Client(`127.0.0.1:${b.port}`, credentials.createInsecure());
    const call = <T>(path: string, frames: Buffer[]) =>
      new Promise<ServiceError | T>((resolve) => {
        const stream = raw.makeClientStreamRequest<Buffer, T>(
          path,
          (x) => x,
          (x) => x as unknown as T,
          (err, res) => resolve(err ?? (res as T)),
        );
        for (const f of frames) stream.write(f);
        stream.end();
      });
    // Not protobuf at all: grpc-js refuses to decode it.
    const garbage = (await call("/halon.v1.RaftPeerService/Stream", [
      Buffer.from([0xff, 0xff, 0xff, 0x0f]),
    ])) as ServiceError;
    expect(garbage.code).toBe(status.INTERNAL);
    // A chunk without the header the first one must carry.
    const chunk = Buffer.from(
      SnapshotChunk.encode(
        SnapshotChunk.fromPartial({ offset: 0, data: Buffer.from("x"), last: true }),
      ).finish(),
    );
    const headless = (await call("/halon.v1.RaftPeerService/InstallSnapshot", [chunk])) as ServiceError;
    expect(headless.code).toBe(status.INVALID_ARGUMENT);
    expect(headless.details).toMatch(/first chunk must carry the header/);
    raw.close();
    // Still serving.
    const a = await startNode("a");
    connect([a, b]);
    a.transport.send([message("a", "b", 1)]);
    await until(() => b.received.length === 1, "a message after the bad input");
  });

  it.runIf(hasOpenssl())("works over mutual TLS and refuses a client from another CA", async () => {
    const dir = makeTempDir("halon-tls-");
    cleanups.push(dir.remove);
    const certs = makeCertificates(dir.dir, ["a", "b"]);
    const a = await startNode("a", { tls: readTls(certs.a!) });
    const b = await startNode("b", { tls: readTls(certs.b!) });
    connect([a, b]);
    a.transport.send([message("a", "b", 1)]);
    await until(() => b.received.length === 1, "a message over mTLS");

    const rogue = makeCertificates(dir.dir, ["x"], "rogue-ca");
    const x = await startNode("x", { tls: readTls(rogue.x!) });
    x.transport.setPeers({ b: `127.0.0.1:${b.port}` });
    x.transport.send([message("x", "b", 1)]);
    await until(() => x.unreachable.includes("b"), "the rogue stream to fail");
    expect(b.received.every((m) => m.from === "a")).toBe(true);
  });
});
