// Authorisation against a real replica (in this process, LevelDB on disk, gRPC
// over TCP with mutual TLS, certificates from `halon certs`): for each role,
// each call it may not make is refused with PERMISSION_DENIED, and each it may
// make is not; a node submits only its own events; nobody submits the leader's
// own events; on the Raft peer listener only member replicas are heard, each
// only for itself, and an InstallSnapshot is refused before anything is kept.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ChannelCredentials,
  Metadata,
  status,
  type ClientReadableStream,
  type ServiceError,
} from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METHOD_PERMISSION } from "../../src/api/client-authz.js";
import { identityFiles, type Role } from "../../src/api/identity.js";
import { Replica } from "../../src/api/replica.js";
import { DEFAULT_CERTS_OPTIONS, issueCertificates } from "../../src/cli/certificate-authority.js";
import { loadClusterConfig, type ClusterConfig } from "../../src/config/index.js";
import { HalonServiceClient, type GraphUpdate } from "../../src/gen/halon/v1/client.js";
import type { Event } from "../../src/gen/halon/v1/events.js";
import {
  RaftMessage,
  RaftMessageType,
  RaftPeerServiceClient,
  type InstallSnapshotResponse,
  type StreamAck,
} from "../../src/gen/halon/v1/raft.js";
import { createLogger } from "../../src/log/logger.js";
import { channelCredentials, type TlsMaterial } from "../../src/raft/transport/tls.js";
import { readFileSync } from "node:fs";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const tmp = makeTempDir("halon-authz-");
let config: ClusterConfig;
let replica: Replica;
const clients: { close(): void }[] = [];

function material(cfg: ClusterConfig, role: Role, name: string): TlsMaterial {
  const f = identityFiles(cfg, role, name);
  return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
}

function yaml(name: string, ports: number[], certsDir: string, extraReplica = false): string {
  return [
    `cluster: {name: ${name}}`,
    `security: {certsDir: ${certsDir}}`,
    "replicas:",
    `  - {id: rc1, grpcAddress: "127.0.0.1:${ports[0]}", peerAddress: "127.0.0.1:${ports[1]}", dataDir: data/rc1}`,
    // A learner that never runs: a member whose certificate the tests hold.
    `  - {id: rc2, grpcAddress: "127.0.0.1:${ports[2]}", peerAddress: "127.0.0.1:${ports[3]}", dataDir: data/rc2, learner: true}`,
    ...(extraReplica
      ? [
          `  - {id: rc9, grpcAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:2", dataDir: data/rc9, learner: true}`,
        ]
      : []),
    "nodes:",
    `  - {id: node1, host: host1, grpcAddress: "127.0.0.1:${ports[4]}", disks: [d1], processes: [{name: p1, command: "true"}]}`,
    `  - {id: node2, host: host2, grpcAddress: "127.0.0.1:${ports[5]}", disks: [d2], processes: [{name: p2, command: "true"}]}`,
    "pools: [{id: pool, disks: [d1, d2]}]",
  ].join("\n");
}

const as: Record<string, TlsMaterial> = {};
let clientAddress = "";
let peerAddress = "";

beforeAll(async () => {
  const ports: number[] = [];
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  const file = join(tmp.dir, "cluster.yaml");
  writeFileSync(file, yaml("authz", ports, "certs"));
  config = loadClusterConfig(file);
  await issueCertificates(config);
  // rc9: a replica certificate of this cluster's CA that the running config does not list.
  const wider = join(tmp.dir, "wider.yaml");
  writeFileSync(wider, yaml("authz", ports, "certs", true));
  await issueCertificates(loadClusterConfig(wider));
  // Another cluster, another CA: its operator is nobody here.
  const other = join(tmp.dir, "other.yaml");
  writeFileSync(other, yaml("other", ports, "other-certs"));
  const otherConfig = loadClusterConfig(other);
  await issueCertificates(otherConfig);

  as.operator = material(config, "operator", "admin");
  as.reader = material(config, "reader", "viewer");
  as.node1 = material(config, "node", "node1");
  as.rc2 = material(config, "replica", "rc2");
  as.rc9 = material(config, "replica", "rc9");
  as.otherCa = material(otherConfig, "operator", "admin");
  // The right CA, but a certificate of another cluster name signed by it.
  writeFileSync(join(tmp.dir, "renamed.yaml"), yaml("renamed", ports, "certs"));
  const renamed = loadClusterConfig(join(tmp.dir, "renamed.yaml"));
  await issueCertificates(renamed, { ...DEFAULT_CERTS_OPTIONS, operators: ["intruder"], readers: [] });
  as.otherCluster = material(renamed, "operator", "intruder");

  replica = await Replica.start({
    config,
    id: "rc1",
    logger: createLogger({ name: "rc1", level: "silent" }),
    rcDuties: { nodeSilentMs: 600_000 },
  });
  clientAddress = config.replicas[0]!.grpcAddress;
  peerAddress = config.replicas[0]!.peerAddress;
  // The leader declares the config's topology: node ownership of processes and disks is known.
  await until(() => replica.status().role === 3, "rc1 to lead");
  const reader = halon(as.operator!);
  await until(async () => {
    const g = await unary<{ graph?: { resources: { id: string }[] } }>(reader, "getGraph", {
      resourceId: "",
    });
    return "graph" in g && g.graph!.resources.some((r) => r.id === "p2");
  }, "the topology");
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await replica?.stop();
  tmp.remove();
});

function halon(tls: TlsMaterial | null): HalonServiceClient {
  const c = new HalonServiceClient(
    clientAddress,
    tls
      ? channelCredentials(tls)
      : ChannelCredentials.createSsl(readFileSync(identityFiles(config, "operator", "admin").ca)),
  );
  clients.push(c);
  return c;
}

function peer(tls: TlsMaterial): RaftPeerServiceClient {
  const c = new RaftPeerServiceClient(peerAddress, channelCredentials(tls));
  clients.push(c);
  return c;
}

/** Calls a unary method; resolves with the response or the error. */
function unary<T>(client: HalonServiceClient, method: string, req: object): Promise<T | ServiceError> {
  type Unary = (r: object, m: Metadata, o: object, cb: (e: ServiceError | null, r?: T) => void) => void;
  const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
  return new Promise((resolve) =>
    fn(req, new Metadata(), { deadline: Date.now() + 5_000 }, (e, r) => resolve(e ?? r!)),
  );
}

function watchFirst(client: HalonServiceClient): Promise<GraphUpdate | ServiceError> {
  return new Promise((resolve) => {
    const stream: ClientReadableStream<GraphUpdate> = client.watchGraph({ fromIndex: 0 });
    stream.on("data", (u: GraphUpdate) => {
      resolve(u);
      stream.cancel();
    });
    stream.on("error", (e: ServiceError) => resolve(e));
  });
}

const heartbeat = (id: string): Event => ({
  id,
  source: "node1",
  nodeHeartbeat: { nodeId: "node1", epoch: 0 },
});

/** A request for each method that passes authorisation harmlessly when allowed. */
const REQUESTS: Record<keyof typeof METHOD_PERMISSION, object> = {
  getStatus: {},
  getGraph: { resourceId: "" },
  watchGraph: {},
  getEpoch: {},
  getOutbox: {},
  submitEvents: { events: [heartbeat("hb-authz")] },
  propose: { payload: Buffer.from("authz") },
  addMember: { id: "rc2" }, // already a learner: answered as done
  promoteMember: { id: "rc1" }, // already a voter
  removeMember: { id: "rc7" }, // not a member
  transferLeadership: { targetId: "rc1" },
  getRules: {},
  changeRules: { version: 0, disabledRules: [] }, // no such version: INVALID_ARGUMENT once allowed
  getHistory: { resourceId: "", limit: 1 },
  explain: { resourceId: "rc1" },
  renewSession: { nodeId: "node1", epoch: 0, incarnation: "authz" },
};

const ALLOWED: Record<string, readonly string[]> = {
  operator: ["read", "submit", "operate"],
  reader: ["read"],
  node1: ["read", "submit", "session"],
  rc2: ["read"],
};

const code = (r: unknown) => (r as ServiceError).code;

describe("the client API, by role", { timeout: 60_000 }, () => {
  for (const who of Object.keys(ALLOWED)) {
    it(`${who}: refused exactly the calls its role does not have`, async () => {
      const client = halon(as[who]!);
      for (const [method, permission] of Object.entries(METHOD_PERMISSION)) {
        const res =
          method === "watchGraph"
            ? await watchFirst(client)
            : await unary(client, method, REQUESTS[method as keyof typeof METHOD_PERMISSION]!);
        if (ALLOWED[who]!.includes(permission)) {
          expect([status.PERMISSION_DENIED, status.UNAUTHENTICATED], `${who} ${method}`).not.toContain(
            code(res),
          );
        } else {
          expect(code(res), `${who} ${method}`).toBe(status.PERMISSION_DENIED);
          expect((res as ServiceError).details, `${who} ${method}`).toContain(`"${permission}" permission`);
        }
      }
    });
  }

  it("a certificate naming another cluster is unauthenticated; another CA's or none gets no connection", async () => {
    for (const method of ["getStatus", "getGraph", "submitEvents", "addMember"]) {
      const res = await unary(
        halon(as.otherCluster!),
        method,
        REQUESTS[method as keyof typeof METHOD_PERMISSION]!,
      );
      expect(code(res), method).toBe(status.UNAUTHENTICATED);
      expect((res as ServiceError).details).toContain('no identity of cluster "authz"');
    }
    expect(code(await watchFirst(halon(as.otherCluster!)))).toBe(status.UNAUTHENTICATED);
    expect(code(await unary(halon(as.otherCa!), "getStatus", {}))).toBe(status.UNAVAILABLE);
    expect(code(await unary(halon(null), "getStatus", {}))).toBe(status.UNAVAILABLE);
  });

  it("a node submits only its own events, of the kinds a node service sends", async () => {
    const node1 = halon(as.node1!);
    const refused: [string, Event][] = [
      ["another source", { id: "n-1", source: "node2", nodeHeartbeat: { nodeId: "node2", epoch: 0 } }],
      [
        "speaks for another node",
        { id: "n-2", source: "node1", nodeHeartbeat: { nodeId: "node2", epoch: 0 } },
      ],
      [
        "another node's process",
        { id: "n-3", source: "node1", processFailed: { processId: "p2", instance: 1, reason: "x" } },
      ],
      ["another node's disk", { id: "n-4", source: "node1", diskFailed: { diskId: "d2" } }],
      [
        "another node's disk replaced",
        { id: "n-4r", source: "node1", diskReplaced: { diskId: "d2", serial: "s" } },
      ],
      [
        "topology",
        { id: "n-5", source: "node1", topologyDeclared: { clusterName: "authz", hosts: [], pools: [] } },
      ],
      ["drain", { id: "n-6", source: "node1", nodeDrained: { nodeId: "node1" } }],
      [
        "a command result",
        {
          id: "n-7",
          source: "node1",
          commandResult: { commandId: "c1", ok: true, detail: "", nodeId: "node1" },
        },
      ],
      ["silence", { id: "n-8", source: "node1", nodeSilent: { nodeId: "node1" } }],
      ["an epoch request for another", { id: "n-9", source: "node1", epochRequest: { nodeId: "node2" } }],
      [
        "a second body hidden behind its own heartbeat",
        {
          id: "n-10",
          source: "node1",
          nodeHeartbeat: { nodeId: "node1", epoch: 0 },
          commandResult: { commandId: "c1", ok: true, detail: "", nodeId: "node1" },
        },
      ],
    ];
    for (const [what, event] of refused) {
      // The forbidden event rides with an allowed one: the whole call is refused.
      const res = await unary(node1, "submitEvents", { events: [heartbeat(`ok-${event.id}`), event] });
      expect(code(res), what).toBe(status.PERMISSION_DENIED);
      expect((res as ServiceError).details, what).toContain("events[1]");
    }
    // A node renews its own session only: it cannot keep another node alive.
    const other = await unary(node1, "renewSession", { nodeId: "node2", epoch: 0, incarnation: "x" });
    expect(code(other)).toBe(status.PERMISSION_DENIED);
    expect((other as ServiceError).details).toContain("only its own");
    const own = (await unary<{ results: { outcome: number }[] }>(node1, "submitEvents", {
      events: [
        { id: "n-own", source: "node1", processFailed: { processId: "p1", instance: 1, reason: "test" } },
      ],
    })) as { results: { outcome: number }[] };
    expect(own.results).toHaveLength(1);
  });

  it("nobody, not even an operator, submits the leader's own findings", async () => {
    const op = halon(as.operator!);
    for (const event of [
      {
        id: "o-1",
        source: "operator",
        commandResult: { commandId: "c1", ok: true, detail: "", nodeId: "node1" },
      },
      { id: "o-2", source: "operator", nodeSilent: { nodeId: "node1" } },
    ]) {
      const res = await unary(op, "submitEvents", { events: [event] });
      expect(code(res)).toBe(status.PERMISSION_DENIED);
      expect((res as ServiceError).details).toContain("only the coordinator's leader");
    }
  });
});

/** Opens a Raft stream as `tls`, sends one batch, ends; resolves with the ack or the error. */
function raftStream(tls: TlsMaterial, messages: RaftMessage[]): Promise<StreamAck | ServiceError> {
  return new Promise((resolve) => {
    const call = peer(tls).stream((err: ServiceError | null, ack?: StreamAck) => resolve(err ?? ack!));
    call.on("error", () => undefined);
    call.write({ messages });
    call.end();
  });
}

const forgedHeartbeat = (from: string, term: number) =>
  RaftMessage.fromPartial({
    type: RaftMessageType.RAFT_MESSAGE_TYPE_HEARTBEAT,
    from,
    to: "rc1",
    term,
    commit: 0,
  });

describe("the Raft peer listener", { timeout: 60_000 }, () => {
  it("refuses a node's, an operator's and a non-member replica's certificate, and a replica speaking for another", async () => {
    const term = replica.status().term;
    const cases: [string, TlsMaterial, string, string][] = [
      ["node", as.node1!, "rc2", "is not a replica"],
      ["operator", as.operator!, "rc2", "is not a replica"],
      ["non-member replica", as.rc9!, "rc9", 'replica "rc9" is not a member'],
      ["forged from", as.rc2!, "rc1", 'replica "rc2" sent a message from "rc1"'],
    ];
    for (const [what, tls, from, message] of cases) {
      const res = await raftStream(tls, [forgedHeartbeat(from, term + 1000)]);
      expect(code(res), what).toBe(status.PERMISSION_DENIED);
      expect((res as ServiceError).details, what).toContain(message);
    }
    // None of it reached Raft: the term did not move.
    expect(replica.status().term).toBe(term);
    // The member, speaking for itself, is heard (its stale term is Raft's business).
    const honest = await raftStream(as.rc2!, [forgedHeartbeat("rc2", 0)]);
    expect(honest).toEqual({ received: 1 });
  });

  it("refuses an InstallSnapshot from a non-replica, and an oversized one before allocating", async () => {
    const send = (tls: TlsMaterial, from: string, size: number) =>
      new Promise<InstallSnapshotResponse | ServiceError>((resolve) => {
        const call = peer(tls).installSnapshot((err: ServiceError | null, res?: InstallSnapshotResponse) =>
          resolve(err ?? res!),
        );
        call.on("error", () => undefined);
        call.write({
          header: RaftMessage.fromPartial({
            type: RaftMessageType.RAFT_MESSAGE_TYPE_SNAPSHOT,
            from,
            to: "rc1",
            term: 1,
          }),
          meta: { index: 1, term: 1, configuration: Buffer.alloc(0), size, checksum: 0 },
          offset: 0,
          data: Buffer.alloc(1024),
          last: false,
        });
      });
    const before = process.memoryUsage().arrayBuffers;
    const fromNode = await send(as.node1!, "rc2", 1024 * 1024);
    expect(code(fromNode)).toBe(status.PERMISSION_DENIED);
    const results = await Promise.all([1, 2, 3, 4].map(() => send(as.rc2!, "rc2", 2 ** 40)));
    for (const r of results) expect([status.RESOURCE_EXHAUSTED]).toContain(code(r));
    expect((results[0] as ServiceError).details).toMatch(/over the limit|already receiving/);
    // Four announced terabytes, and memory did not move by more than noise.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(32 * 1024 * 1024);
    const forged = await send(as.rc2!, "rc1", 1024);
    expect(code(forged)).toBe(status.PERMISSION_DENIED);
  });

  it("holds only the bytes that arrived of a snapshot announced under the limit", async () => {
    const announced = 200 * 1024 * 1024;
    const before = process.memoryUsage().arrayBuffers;
    const call = peer(as.rc2!).installSnapshot(() => undefined);
    call.on("error", () => undefined);
    call.write({
      header: RaftMessage.fromPartial({
        type: RaftMessageType.RAFT_MESSAGE_TYPE_SNAPSHOT,
        from: "rc2",
        to: "rc1",
        term: 1,
      }),
      meta: { index: 1, term: 1, configuration: Buffer.alloc(0), size: announced, checksum: 0 },
      offset: 0,
      data: Buffer.alloc(64 * 1024, 7),
      last: false,
    });
    // The chunk has arrived once a second transfer from the same peer is refused as concurrent.
    await until(async () => {
      const second = await new Promise<ServiceError | null>((resolve) => {
        const c = peer(as.rc2!).installSnapshot((err: ServiceError | null) => resolve(err));
        c.on("error", () => undefined);
        c.write({ header: undefined, meta: undefined, offset: 0, data: Buffer.alloc(0), last: false });
      });
      return second?.details.includes("already receiving") ?? false;
    }, "the first transfer to be under way");
    await new Promise((r) => setTimeout(r, 300)); // its first chunk is read by now
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(announced / 4);
    call.cancel();
  });
});
