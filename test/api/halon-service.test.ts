// The client service over real gRPC with a fake replica: every kind of bad
// input gets its status, a follower names the leader, and the replica server
// answers standard health checks and reflection.
import { fileURLToPath } from "node:url";
import {
  credentials,
  loadPackageDefinition,
  makeGenericClientConstructor,
  Metadata,
  status,
  type Client,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { GrpcError } from "../../src/api/grpc-errors.js";
import { createHalonService, LEADER_ADDRESS_TRAILER } from "../../src/api/halon-service.js";
import type { ReplicaControl } from "../../src/api/replica-control.js";
import { ReplicaServer } from "../../src/api/replica-server.js";
import { ReplicaStatus } from "../../src/gen/halon/v1/client.js";
import { LeadershipLostError, NotLeaderError } from "../../src/raft/core/errors.js";
import { GrpcTransport } from "../../src/raft/transport/grpc-transport.js";

let serverAddress = "";

/** A replica that follows rc2, except for payloads that say otherwise. */
const control: ReplicaControl = {
  id: "rc1",
  propose: (payload) => {
    const text = Buffer.from(payload).toString();
    if (text === "lost") return Promise.reject(new LeadershipLostError(7));
    if (text === "ok") return Promise.resolve({ index: 3, term: 2, result: new Uint8Array([1]) });
    return Promise.reject(new NotLeaderError("rc2"));
  },
  status: () => ReplicaStatus.fromPartial({ id: "rc1", term: 2, leaderId: "rc2" }),
  changeMembership: () => Promise.reject(new GrpcError(status.FAILED_PRECONDITION, "not in the config")),
  transferLeadership: () => Promise.reject(new NotLeaderError(null)),
  // The fake leader's address is this server's own, so a client never leaves it.
  addressOf: (id) => (id === "rc2" ? serverAddress : null),
  readBarrier: () => Promise.resolve(),
};

describe("client service", () => {
  const transport = new GrpcTransport({
    selfId: "rc1",
    peers: {},
    onMessages: () => undefined,
    onSnapshot: () => Promise.resolve({ term: 0, accepted: false }),
  });
  const server = new ReplicaServer({
    address: "127.0.0.1:0",
    peerAddress: "127.0.0.1:0",
    halon: createHalonService(control, { maxPayloadBytes: 100, maxPendingProposals: 10 }),
    peer: transport.service,
  });
  let address = "";
  const clients: ClusterClient[] = [];
  /** A client per call: one that followed a leader hint would go to the (fake) leader next. */
  const client = {
    propose: (payload: Uint8Array) => fresh().propose(payload),
    addMember: (id: string) => fresh().addMember(id),
  };
  function fresh(): ClusterClient {
    const c = new ClusterClient({ addresses: [address], leaderTimeoutMs: 1 });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    address = `127.0.0.1:${await server.start()}`;
    serverAddress = address;
    server.setServing(true);
  });

  afterAll(async () => {
    clients.forEach((c) => c.close());
    transport.close();
    await server.stop();
  });

  async function failure(p: Promise<unknown>): Promise<ServiceError> {
    return (await p.then(
      () => {
        throw new Error("expected a failure");
      },
      (e: unknown) => e,
    )) as ServiceError;
  }

  it("answers a proposal that is applied", async () => {
    expect(await client.propose(Buffer.from("ok"))).toEqual({ index: 3, term: 2, result: Buffer.from([1]) });
  });

  it("refuses empty and oversized payloads", async () => {
    const empty = await failure(client.propose(new Uint8Array()));
    expect([empty.code, empty.details]).toEqual([status.INVALID_ARGUMENT, "payload is empty"]);
    const big = await failure(client.propose(new Uint8Array(101)));
    expect(big.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(big.details).toContain("over the limit of 100");
  });

  it("names the leader and its address on a follower, also in a trailer", async () => {
    const err = await failure(client.propose(Buffer.from("x")));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe(`rc1 is not the leader; the leader is rc2 at ${address}`);
    expect(err.metadata.get(LEADER_ADDRESS_TRAILER)).toEqual([address]);
  });

  it("says that the outcome is unknown when leadership was lost", async () => {
    const err = await failure(client.propose(Buffer.from("lost")));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toContain("outcome is unknown");
  });

  it("refuses a malformed replica id and passes the replica's own refusals on", async () => {
    const bad = await failure(client.addMember("Not An Id"));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    const unknown = await failure(client.addMember("rc9"));
    expect([unknown.code, unknown.details]).toEqual([status.FAILED_PRECONDITION, "not in the config"]);
  });

  it("serves standard health checks", async () => {
    const Health = makeGenericClientConstructor(healthService, "Health");
    const health = new Health(address, credentials.createInsecure()) as unknown as Client & {
      check(req: object, cb: (e: ServiceError | null, r: { status: string }) => void): void;
    };
    const answer = await new Promise<{ status: string }>((resolve, reject) =>
      health.check({ service: "halon.v1.HalonService" }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(answer.status).toBe("SERVING");
    health.close();
  });

  it("lists its services through server reflection", async () => {
    const protoDir = fileURLToPath(
      new URL("../../node_modules/@grpc/reflection/build/proto", import.meta.url),
    );
    const def = loadSync("grpc/reflection/v1/reflection.proto", { includeDirs: [protoDir] });
    const pkg = loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: new (a: string, c: unknown) => Client } } };
    };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(
      address,
      credentials.createInsecure(),
    ) as Client & {
      serverReflectionInfo(md: Metadata): NodeJS.ReadWriteStream & { write(m: object): boolean; end(): void };
    };
    const call = reflection.serverReflectionInfo(new Metadata());
    const names = await new Promise<string[]>((resolve, reject) => {
      call.on("data", (res: { listServicesResponse?: { service: { name: string }[] } }) =>
        resolve(res.listServicesResponse?.service.map((s) => s.name) ?? []),
      );
      call.on("error", reject);
      call.write({ listServices: "*" });
    });
    call.end();
    reflection.close();
    expect(names).toEqual(expect.arrayContaining(["halon.v1.HalonService", "halon.v1.RaftPeerService"]));
  });
});
