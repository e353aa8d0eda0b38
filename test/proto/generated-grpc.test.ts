// The generated types are usable as they are: a generated client calls a
// generated server over real gRPC on 127.0.0.1, unary and streaming.
import { credentials, Server, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  HalonServiceClient,
  HalonServiceService,
  ReplicaRole,
  ReplicaStatus,
  type HalonServiceServer,
} from "../../src/gen/halon/v1/client.js";
import {
  RaftMessageBatch,
  RaftMessageType,
  RaftPeerServiceClient,
  RaftPeerServiceService,
  SnapshotChunk,
  type RaftPeerServiceServer,
} from "../../src/gen/halon/v1/raft.js";

describe("generated gRPC code", () => {
  const server = new Server();
  let address = "";
  const received: RaftMessageBatch[] = [];

  beforeAll(async () => {
    const halon: HalonServiceServer = {
      propose: (call, callback) => {
        if (call.request.payload.length === 0) {
          callback({ code: status.INVALID_ARGUMENT, details: "payload is empty" });
          return;
        }
        callback(null, { index: 42, term: 3, result: Buffer.from(call.request.payload).reverse() });
      },
      getStatus: (_call, callback) =>
        callback(
          null,
          ReplicaStatus.fromPartial({
            id: "rc1",
            role: ReplicaRole.REPLICA_ROLE_LEADER,
            term: 3,
            leaderId: "rc1",
            leaderAddress: address,
            commitIndex: 42,
            appliedIndex: 42,
            lastLogIndex: 43,
          }),
        ),
      // Not exercised here: the replica's own tests cover them.
      addMember: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      getHistory: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      explain: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      promoteMember: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      removeMember: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      transferLeadership: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      submitEvents: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      getGraph: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      getEpoch: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      getOutbox: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      getRules: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      renewSession: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      changeRules: (_call, callback) => callback({ code: status.UNIMPLEMENTED }),
      watchGraph: (call) => call.emit("error", { code: status.UNIMPLEMENTED }),
    };
    const peer: RaftPeerServiceServer = {
      stream: (call, callback) => {
        let count = 0;
        call.on("data", (batch: RaftMessageBatch) => {
          received.push(batch);
          count += batch.messages.length;
        });
        call.on("end", () => callback(null, { received: count }));
      },
      installSnapshot: (call, callback) => {
        let bytes = 0;
        call.on("data", (chunk: { data: Buffer }) => (bytes += chunk.data.length));
        call.on("end", () => callback(null, { term: 1, accepted: bytes === 10, error: "" }));
      },
    };
    server.addService(HalonServiceService, halon);
    server.addService(RaftPeerServiceService, peer);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));

  it("a unary call round-trips typed messages", async () => {
    const client = new HalonServiceClient(address, credentials.createInsecure());
    try {
      const reply = await new Promise((resolve, reject) =>
        client.propose({ payload: Buffer.from("abc") }, (err, res) => (err ? reject(err) : resolve(res))),
      );
      expect(reply).toEqual({ index: 42, term: 3, result: Buffer.from("cba") });
      const st = await new Promise((resolve, reject) =>
        client.getStatus({}, (err, res) => (err ? reject(err) : resolve(res))),
      );
      expect(st).toMatchObject({
        role: ReplicaRole.REPLICA_ROLE_LEADER,
        lastLogIndex: 43,
        leaderAddress: address,
      });
    } finally {
      client.close();
    }
  });

  it("a server's error status reaches the client", async () => {
    const client = new HalonServiceClient(address, credentials.createInsecure());
    try {
      const err = await new Promise<ServiceError>((resolve) =>
        client.propose({ payload: Buffer.alloc(0) }, (e) => resolve(e as ServiceError)),
      );
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toBe("payload is empty");
    } finally {
      client.close();
    }
  });

  it("a client stream carries batches of Raft messages with 64-bit fields intact", async () => {
    const client = new RaftPeerServiceClient(address, credentials.createInsecure());
    try {
      const ack = await new Promise<{ received: number }>((resolve, reject) => {
        const call = client.stream((err, res) => (err ? reject(err) : resolve(res!)));
        for (let b = 0; b < 3; b++) {
          call.write({
            messages: Array.from({ length: 4 }, (_, i) => ({
              type: RaftMessageType.RAFT_MESSAGE_TYPE_APPEND,
              from: "rc1",
              to: "rc2",
              term: 7,
              logTerm: 6,
              index: 2 ** 40 + b * 4 + i,
              entries: [{ term: 7, index: 2 ** 40 + 1, type: 0, data: Buffer.from([b, i]) }],
              commit: 2 ** 40,
              reject: false,
              rejectHint: 0,
              hintTerm: 0,
              context: Buffer.alloc(0),
              storageId: "",
            })),
          });
        }
        call.end();
      });
      expect(ack.received).toBe(12);
      expect(received).toHaveLength(3);
      expect(received[2]!.messages[3]!.index).toBe(2 ** 40 + 11);
      expect(received[1]!.messages[2]!.entries[0]!.data).toEqual(Buffer.from([1, 2]));
    } finally {
      client.close();
    }
  });

  it("a snapshot streams in chunks", async () => {
    const client = new RaftPeerServiceClient(address, credentials.createInsecure());
    try {
      const res = await new Promise<{ accepted: boolean }>((resolve, reject) => {
        const call = client.installSnapshot((err, r) => (err ? reject(err) : resolve(r!)));
        for (let i = 0; i < 5; i++)
          call.write(SnapshotChunk.fromPartial({ offset: i * 2, data: Buffer.from([i, i]), last: i === 4 }));
        call.end();
      });
      expect(res.accepted).toBe(true);
    } finally {
      client.close();
    }
  });

  it("encode and decode are inverse for a batch", () => {
    const batch = RaftMessageBatch.fromPartial({
      messages: [
        { type: RaftMessageType.RAFT_MESSAGE_TYPE_VOTE, from: "a", to: "b", term: 9, index: 5, logTerm: 4 },
      ],
    });
    const bytes = RaftMessageBatch.encode(batch).finish();
    expect(RaftMessageBatch.decode(bytes)).toEqual(batch);
  });
});
