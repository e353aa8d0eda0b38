// Clean request errors over real gRPC on 127.0.0.1 (issue 10, cases 2, 5, 6
// and 7): Propose closed on a coordinator replica; uint64 values above 2^53
// and malformed bytes answered INVALID_ARGUMENT naming the field; status
// messages bounded so that a 100 KB id does not break the connection (the
// next call on the same channel works); events that fail stateless checks
// refused before they reach the log. Random bytes into every method's
// request decoder give a clean answer.
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterClient } from "../../src/api/cluster-client.js";
import { MAX_STATUS_MESSAGE } from "../../src/api/grpc-errors.js";
import { createHalonService, DEFAULT_LIMITS } from "../../src/api/halon-service.js";
import { GraphWatchHub } from "../../src/api/graph-watch-hub.js";
import { DEFAULT_RC_LIMITS, type RcAccess } from "../../src/api/rc-service.js";
import type { ReplicaControl } from "../../src/api/replica-control.js";
import { ReplicaServer } from "../../src/api/replica-server.js";
import { badRequest, guardService } from "../../src/api/request-guard.js";
import { HalonServiceService, ReplicaStatus } from "../../src/gen/halon/v1/client.js";
import type { Event } from "../../src/gen/halon/v1/events.js";
import { NotLeaderError } from "../../src/raft/core/errors.js";
import { GrpcTransport } from "../../src/raft/transport/grpc-transport.js";
import { EntryType } from "../../src/raft/types.js";
import { History } from "../../src/rc/history.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { BOUNDS } from "../../src/rc/validate.js";
import { runs, seed } from "../rc/apply-fuzz.js";

const machine = new RcStateMachine();
let proposals = 0;
const control: ReplicaControl = {
  id: "rc1",
  propose: (payload) => {
    proposals++;
    const index = machine.lastApplied + 1;
    const result = machine.apply({ index, term: 1, type: EntryType.Normal, data: payload });
    return Promise.resolve({ index, term: 1, result });
  },
  status: () => ReplicaStatus.fromPartial({ id: "rc1", appliedIndex: machine.lastApplied }),
  // This replica is not the leader for those: a clean FAILED_PRECONDITION.
  changeMembership: () => Promise.reject(new NotLeaderError(null)),
  transferLeadership: () => Promise.reject(new NotLeaderError(null)),
  addressOf: () => null,
  readBarrier: () => Promise.resolve(),
};
const rc: RcAccess = {
  machine,
  hub: new GraphWatchHub(),
  history: new History(),
  heard: () => undefined,
  heardFrom: () => undefined,
  now: () => Date.now(),
  stateHash: () => "",
};

/** A SubmitEventsRequest whose event `at` carries process_failed.instance = `instance` (any uint64). */
function submitWithInstance(count: number, at: number, instance: bigint): Uint8Array {
  const w = new BinaryWriter();
  for (let i = 0; i < count; i++) {
    w.tag(1, 2).fork(); // events[i]
    w.tag(1, 2).string(`e${i}`);
    w.tag(10, 2).fork(); // process_failed
    w.tag(1, 2).string("p1");
    w.tag(2, 0).uint64(i === at ? instance : 1n);
    w.join();
    w.join();
  }
  return w.finish();
}

describe("clean request errors on a coordinator replica", () => {
  const transport = new GrpcTransport({
    selfId: "rc1",
    peers: {},
    onMessages: () => undefined,
    onSnapshot: () => Promise.resolve({ term: 0, accepted: false }),
  });
  const server = new ReplicaServer({
    address: "127.0.0.1:0",
    peerAddress: "127.0.0.1:0",
    halon: createHalonService(control, DEFAULT_LIMITS, rc, DEFAULT_RC_LIMITS),
    peer: transport.service,
  });
  let address = "";
  let client: ClusterClient;
  let raw: Client;

  /** Sends raw request bytes to a method; resolves with the error (or null when it succeeded). */
  const rawCall = (method: string, bytes: Uint8Array): Promise<ServiceError | null> =>
    new Promise((resolve) => {
      raw.makeUnaryRequest(
        `/halon.v1.HalonService/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (err) => resolve(err ?? null),
      );
    });

  beforeAll(async () => {
    address = `127.0.0.1:${await server.start()}`;
    client = new ClusterClient({ addresses: [address], leaderTimeoutMs: 1 });
    raw = new Client(address, credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    raw.close();
    await server.stop();
  });

  it("case 2: Propose is closed; nothing reaches the log", async () => {
    const before = proposals;
    const err = (await client.propose(Buffer.from("raw tick")).catch((e: unknown) => e)) as ServiceError;
    // UNIMPLEMENTED, not FAILED_PRECONDITION: clients take that one as "ask the leader".
    expect(err.code).toBe(status.UNIMPLEMENTED);
    expect(err.details).toContain("SubmitEvents");
    expect(proposals).toBe(before);
  });

  it("case 5: a uint64 above 2^53 is INVALID_ARGUMENT naming the field, in any method", async () => {
    const err = await rawCall("SubmitEvents", submitWithInstance(3, 1, 2n ** 60n));
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain("events[1].process_failed.instance");
    const max = await rawCall("SubmitEvents", submitWithInstance(1, 0, 2n ** 64n - 1n));
    expect(max?.details).toContain("events[0].process_failed.instance: 18446744073709551615");
    // A server stream too.
    const watch = await new Promise<ServiceError>((resolve) => {
      const w = new BinaryWriter();
      w.tag(1, 0).uint64(2n ** 53n + 2n);
      const s = raw.makeServerStreamRequest(
        "/halon.v1.HalonService/WatchGraph",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(w.finish()),
      );
      s.on("error", resolve);
      s.on("data", () => undefined);
    });
    expect(watch.code).toBe(status.INVALID_ARGUMENT);
    expect(watch.details).toContain("from_index");
    // Malformed bytes: INVALID_ARGUMENT too, not INTERNAL.
    const junk = await rawCall("GetGraph", new Uint8Array([0x0a, 0xff, 0xff, 0xff]));
    expect(junk?.code).toBe(status.INVALID_ARGUMENT);
    expect(junk?.details).toContain("GetGraphRequest");
    // 2^53 - 1 itself decodes, and validation answers with the field's bound.
    const edge = await rawCall("SubmitEvents", submitWithInstance(1, 0, 2n ** 53n - 1n));
    expect(edge?.code).toBe(status.INVALID_ARGUMENT);
    expect(edge?.details).toContain(
      `events[0].process_failed.instance must be an integer from 1 to ${BOUNDS.instance}`,
    );
  });

  it("case 6: a 100 KB id gets a bounded message, and the same channel keeps working", async () => {
    const huge = "x".repeat(100 * 1024);
    for (const call of [() => client.getGraph(huge), () => client.addMember(huge)]) {
      const err = (await call().catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
      expect(err.details).toContain("102400 characters");
      // The next call on the same channel is answered.
      expect((await client.status(address)).id).toBe("rc1");
    }
    const evil = "\u0000\n".repeat(50 * 1024);
    const err = (await client.getGraph(evil).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect((await client.status(address)).id).toBe("rc1");
  });

  it("case 7: events refused by stateless checks never enter the log", async () => {
    const before = proposals;
    const bad: Event[][] = [
      [
        { id: "ok", source: "" },
        { id: "i", source: "", processFailed: { processId: "p", instance: BOUNDS.instance + 1, reason: "" } },
      ],
      [{ id: "two", source: "", diskFailed: { diskId: "d" }, nodeSilent: { nodeId: "n" } }],
      [{ id: "sp", source: "", diskFailed: { diskId: "has space" } }],
      [{ id: "long", source: "r".repeat(5000) }],
      [{ id: "x".repeat(300), source: "" }],
    ];
    const fields = [
      "events[1].process_failed.instance",
      "events[0].body",
      "events[0].disk_failed.disk_id",
      "events[0].source",
      "events[0].id",
    ];
    for (const [i, events] of bad.entries()) {
      const err = (await client.submitEvents(events).catch((e: unknown) => e)) as ServiceError;
      expect(err.code, JSON.stringify(events).slice(0, 80)).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(fields[i]);
    }
    expect(proposals).toBe(before);
    // A good batch still goes through.
    const ok = await client.submitEvents([
      { id: "fine", source: "", opaque: { type: "t", payload: Buffer.alloc(1) } },
    ]);
    expect(ok.results[0]!.eventId).toBe("fine");
    expect(proposals).toBe(before + 1);
  });

  it("GetRules and ChangeRules: a failing rule is switched off through the log, bad requests never reach it", async () => {
    const start = await client.getRules();
    expect(start).toMatchObject({ version: 1, disabledRules: [], faultCount: 0 });
    expect(start.knownRules).toEqual(["process-recovery", "node-recovery"]);
    const before = proposals;
    for (const [version, rules, field] of [
      [1, ["no-such-rule"], "disabled_rules[0]"],
      [7, [], "version"],
    ] as const) {
      const err = (await client.changeRules(version, [...rules]).catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(field);
    }
    expect(proposals).toBe(before);
    const off = await client.changeRules(1, ["node-recovery"]);
    expect(off.disabledRules).toEqual(["node-recovery"]);
    expect(proposals).toBe(before + 1);
    expect(machine.rules().disabled).toEqual(["node-recovery"]);
    expect((await client.changeRules(1, [])).disabledRules).toEqual([]);
  });

  it("random bytes into every method get a clean answer over the wire", async () => {
    const methods = Object.values(HalonServiceService)
      .filter((m) => !m.responseStream)
      .map((m) => m.path.slice(m.path.lastIndexOf("/") + 1));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.uint8Array({ maxLength: 64 }),
        async (method, bytes) => {
          const err = await rawCall(method, bytes);
          if (err === null) return;
          expect(err.code, `${method}: ${err.details}`).not.toBe(status.INTERNAL);
          expect(err.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
        },
      ),
      { seed: seed(77), numRuns: runs(200) },
    );
  });
});

describe("the guarded request decoders", () => {
  it("never throw: random bytes decode, or come out marked INVALID_ARGUMENT with a bounded message", () => {
    const guarded = guardService(HalonServiceService);
    let marked = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(guarded)),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((v) => submitWithInstance(2, 1, v)),
        ),
        (method, bytes) => {
          const req = (method.requestDeserialize as (b: Buffer) => unknown)(Buffer.from(bytes));
          const bad = badRequest(req);
          if (bad) {
            marked++;
            expect(bad.code).toBe(status.INVALID_ARGUMENT);
            expect(bad.details.length).toBeLessThanOrEqual(MAX_STATUS_MESSAGE);
          }
        },
      ),
      { seed: seed(78), numRuns: runs(3_000) },
    );
    expect(marked).toBeGreaterThan(100);
  });
});
