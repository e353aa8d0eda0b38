// WatchGraph's bounds over real gRPC: a watcher that stops reading is cut once
// the bytes queued for it pass the limit (not a count of messages), while one
// that reads gets everything; and a caller may hold only so many streams.
import { connect } from "node:http2";
import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHalonService } from "../../src/api/client-authz.js";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { GraphWatchHub } from "../../src/api/graph-watch-hub.js";
import { createHalonService, DEFAULT_LIMITS } from "../../src/api/halon-service.js";
import { DEFAULT_RC_LIMITS, type RcAccess } from "../../src/api/rc-service.js";
import type { ReplicaControl } from "../../src/api/replica-control.js";
import { ReplicaServer } from "../../src/api/replica-server.js";
import {
  GraphChangeOp,
  ReplicaStatus,
  WatchGraphRequest,
  type GraphUpdate,
} from "../../src/gen/halon/v1/client.js";
import { History, RcStateMachine } from "../../src/rc/index.js";
import { GrpcTransport } from "../../src/raft/transport/grpc-transport.js";
import { until } from "../e2e/cluster-harness.js";

const LIMIT = 1024 * 1024;
const hub = new GraphWatchHub(1_000_000);
const machine = new RcStateMachine({});
const rc: RcAccess = {
  machine,
  hub,
  history: new History(),
  heard: () => undefined,
  heardFrom: () => undefined,
  now: () => 0,
  stateHash: () => "",
};
const control: ReplicaControl = {
  id: "rc1",
  propose: () => Promise.reject(new Error("unused")),
  status: () => ReplicaStatus.fromPartial({ id: "rc1" }),
  changeMembership: () => Promise.reject(new Error("unused")),
  transferLeadership: () => Promise.reject(new Error("unused")),
  addressOf: () => null,
  readBarrier: () => Promise.resolve(),
};
const transport = new GrpcTransport({
  selfId: "rc1",
  peers: {},
  onMessages: () => undefined,
  onSnapshot: () => Promise.resolve({ term: 0, accepted: false }),
});
const server = new ReplicaServer({
  address: "127.0.0.1:0",
  peerAddress: "127.0.0.1:0",
  halon: authorizedHalonService(
    createHalonService(control, DEFAULT_LIMITS, rc, { ...DEFAULT_RC_LIMITS, maxWatchBufferBytes: LIMIT }),
    { cluster: "w", ownerNode: () => undefined },
    3,
  ),
  peer: transport.service,
});
let address = "";
const clients: ClusterClient[] = [];
const client = () => {
  const c = new ClusterClient({ addresses: [address] });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  address = `127.0.0.1:${await server.start()}`;
});

afterAll(async () => {
  for (const c of clients) c.close();
  await server.stop();
  transport.close();
});

/** One entry's changes of about 64 KiB. */
function bigChange(index: number) {
  return [
    {
      op: GraphChangeOp.GRAPH_CHANGE_OP_SET,
      id: "disk-1",
      kind: "",
      key: "note",
      valueJson: JSON.stringify("x".repeat(64 * 1024) + index),
      oldJson: "",
      from: "",
      relation: "",
      to: "",
      attributes: {},
    },
  ];
}

describe("WatchGraph bounds", { timeout: 60_000 }, () => {
  it("cuts a watcher that stopped reading by the bytes queued, and not one that reads", async () => {
    let index = machine.lastApplied;
    // A client that stops reading from the network: a raw HTTP/2 stream, paused, so the
    // server's writes stop draining (grpc-js's own client would keep reading into memory).
    const session = connect(`http://${address}`);
    session.on("error", () => undefined);
    const request = WatchGraphRequest.encode({ fromIndex: index }).finish();
    const frame = Buffer.alloc(5 + request.length);
    frame.writeUInt32BE(request.length, 1);
    Buffer.from(request).copy(frame, 5);
    const stalled = session.request({
      ":method": "POST",
      ":path": "/halon.v1.HalonService/WatchGraph",
      "content-type": "application/grpc",
      te: "trailers",
    });
    let stalledBytes = 0;
    let stalledStatus: { code: string; message: string } | null = null;
    stalled.on("data", (b: Buffer) => (stalledBytes += b.length));
    stalled.on("trailers", (t) => {
      stalledStatus = {
        code: String(t["grpc-status"]),
        message: decodeURIComponent(String(t["grpc-message"])),
      };
    });
    stalled.on("error", () => undefined);
    stalled.end(frame);
    stalled.pause();

    const reading = client().watchGraph(address, index);
    let readingReceived = 0;
    let readingError: ServiceError | null = null;
    // From index 0 the first update is the whole graph: count the entries' changes only.
    reading.on("data", (u: GraphUpdate) => {
      if (!u.graph) readingReceived++;
    });
    reading.on("error", (e: ServiceError) => (readingError = e));
    await new Promise((r) => setTimeout(r, 300)); // both subscribed
    const updates = 300; // about 19 MiB in all
    for (let i = 0; i < updates; i++) {
      hub.publish(++index, bigChange(index));
      // A reader keeps up: at most a few updates (far under the limit) wait for it.
      const deadline = Date.now() + 10_000;
      while (readingReceived < i - 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => readingReceived === updates, "the reading watcher to get every update", 30_000);
    expect(readingError).toBeNull();
    stalled.resume();
    await until(() => stalledStatus !== null, "the stalled watcher to be cut", 20_000);
    expect(stalledStatus!.code).toBe(String(status.RESOURCE_EXHAUSTED));
    expect(stalledStatus!.message).toMatch(/too slow: \d+ bytes wait to be sent \(limit 1048576\)/);
    // Cut at about the limit, long before 19 MiB were queued for it.
    expect(stalledBytes).toBeLessThan(4 * LIMIT);
    reading.cancel();
    session.close();
  });

  it("refuses a caller more WatchGraph streams than the limit, and frees a slot when one ends", async () => {
    const c = client();
    const open: ClientReadableStream<GraphUpdate>[] = [];
    const firstOf = (s: ClientReadableStream<GraphUpdate>) =>
      new Promise<GraphUpdate | ServiceError>((resolve) => {
        s.once("data", resolve);
        s.once("error", resolve);
      });
    for (let i = 0; i < 3; i++) {
      const s = c.watchGraph(address, 0);
      s.on("error", () => undefined);
      open.push(s);
      expect(await firstOf(s)).toHaveProperty("index");
    }
    const extra = c.watchGraph(address, 0);
    const refused = (await firstOf(extra)) as ServiceError;
    expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.details).toContain("already has 3 WatchGraph streams open (at most 3)");
    open.pop()!.cancel();
    await until(async () => {
      const s = c.watchGraph(address, 0);
      s.on("error", () => undefined);
      const first = await firstOf(s);
      s.cancel();
      return "index" in first;
    }, "a slot to be free again");
    for (const s of open) s.cancel();
  });
});
