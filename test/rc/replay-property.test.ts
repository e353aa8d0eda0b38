// Property: for any log, restoring a snapshot taken at index k and applying
// the rest gives the same results, entry by entry, and the same state hash as
// applying the whole log from the start; two fresh replicas agree by hash.
// fast-check prints the seed and the shrunk counterexample of a failure.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventOutcome, type Event } from "../../src/gen/halon/v1/events.js";
import { EntryType, type Entry } from "../../src/raft/types.js";
import { decodeApplyResult, encodeEventBatch, encodeTick, makeEvent } from "../../src/rc/entry.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import type { EntryTrace } from "../../src/rc/trace.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

const HOSTS = 3;
const node = fc.integer({ min: 0, max: HOSTS - 1 }).map((i) => `node-${i}`);
const proc = fc
  .tuple(fc.integer({ min: 0, max: HOSTS - 1 }), fc.integer({ min: 0, max: 1 }))
  .map(([h, j]) => `proc-${h}-${j}`);
const disk = fc
  .tuple(fc.integer({ min: 0, max: HOSTS - 1 }), fc.integer({ min: 0, max: 1 }))
  .map(([h, d]) => `disk-${h}-${d}`);
const instance = fc.integer({ min: 1, max: 6 });

type Body = Omit<Event, "id" | "source">;
const body: fc.Arbitrary<Body> = fc.oneof(
  node.map((nodeId) => ({ nodeHeartbeat: { nodeId, epoch: 0 } })),
  fc
    .tuple(node, fc.integer({ min: 0, max: 4 }))
    .map(([nodeId, epoch]) => ({ nodeHeartbeat: { nodeId, epoch } })),
  node.map((nodeId) => ({ nodeSilent: { nodeId } })),
  node.map((nodeId) => ({
    nodeJoined: { nodeId, hostId: nodeId.replace("node", "host"), address: "", epoch: 0 },
  })),
  fc
    .tuple(proc, instance)
    .map(([processId, i]) => ({ processFailed: { processId, instance: i, reason: "" } })),
  fc.tuple(proc, instance).map(([processId, i]) => ({ processStarted: { processId, instance: i } })),
  fc
    .tuple(proc, instance)
    .map(([processId, i]) => ({ processLocalRestart: { processId, instance: i, reason: "" } })),
  disk.map((diskId) => ({ stripingError: { poolId: "pool-0", diskId } })),
  disk.map((diskId) => ({ diskFailed: { diskId } })),
  disk.map((diskId) => ({ diskReplaced: { diskId, serial: "" } })),
  node.map((nodeId) => ({ nodeDrained: { nodeId } })),
  node.map((nodeId) => ({ epochRequest: { nodeId } })),
  fc
    .tuple(fc.integer({ min: 1, max: 60 }), fc.boolean(), fc.option(node, { nil: "" }))
    .map(([n, ok, nodeId]) => ({ commandResult: { commandId: `c${n}`, ok, detail: "", nodeId } })),
  fc.constant({ opaque: { type: "fan", payload: Buffer.alloc(0) } }),
  fc.constant({ processFailed: { processId: "ghost", instance: 1, reason: "" } }),
  // More topology mid-way: a new pool over existing disks, a new host with its node.
  fc.tuple(fc.integer({ min: 1, max: 3 }), disk).map(([p, diskId]) => ({
    topologyDeclared: { clusterName: "", hosts: [], pools: [{ id: `pool-${p}`, diskIds: [diskId] }] },
  })),
  fc.integer({ min: 10, max: 12 }).map((h) => ({
    topologyDeclared: {
      clusterName: "",
      hosts: [
        {
          id: `host-${h}`,
          rackId: "rack-0",
          enclosureId: "enc-0",
          address: "",
          infraEndpoint: "",
          nodeId: `node-${h}`,
          disks: [{ id: `disk-${h}-0`, serial: "" }],
          processes: [{ id: `proc-${h}-0`, command: "", serviceIds: [] }],
        },
      ],
      pools: [{ id: "pool-0", diskIds: [`disk-${h}-0`] }],
    },
  })),
);

type Step =
  { k: "events"; dt: number; bodies: Body[]; reuse: number[] } | { k: "tick"; dt: number } | { k: "garbage" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant("events" as const),
      dt: fc.integer({ min: 0, max: 4_000 }),
      bodies: fc.array(body, { minLength: 1, maxLength: 4 }),
      reuse: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 1 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("tick" as const), dt: fc.integer({ min: 1, max: 40_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ k: "garbage" as const }) },
);

/** The fixed start of every log: a running cluster. */
function setupLog(): { log: Entry[]; time: number } {
  const s = new Scenario(TEST_CONFIG);
  runningCluster(s, { hosts: HOSTS, processesPerNode: 2, disksPerHost: 2, pools: 1 });
  return { log: s.log, time: s.time };
}

function buildLog(steps: Step[]): Entry[] {
  const { log, time: t0 } = setupLog();
  const entries = [...log];
  const sent: Event[] = [];
  let time = t0;
  let seq = 0;
  for (const st of steps) {
    let data: Uint8Array;
    if (st.k === "garbage") data = new Uint8Array([0x0a, 0x05, 0xff]);
    else if (st.k === "tick") {
      time += st.dt;
      data = encodeTick(time);
    } else {
      time += st.dt;
      const events = st.bodies.map((b) => makeEvent({ ...b, id: `p${++seq}`, source: "prop" }));
      for (const back of st.reuse) {
        const again = sent[sent.length - back];
        if (again) events.push(again);
      }
      sent.push(...events);
      data = encodeEventBatch(time, events);
    }
    entries.push({ term: 2, index: entries.length + 1, type: EntryType.Normal, data });
  }
  return entries;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("snapshot then replay equals replay from the start", () => {
  it("holds for random logs and any split point", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 50 }), fc.nat(), (steps, splitSeed) => {
        const log = buildLog(steps);
        const whole = new RcStateMachine({ config: TEST_CONFIG });
        const results = log.map((e) => hex(whole.apply(e)));
        // Whatever the input, no handler failed and no rule threw.
        for (const r of results)
          for (const ev of decodeApplyResult(Buffer.from(r, "hex")).events)
            expect(ev.code).not.toBe("internal");
        expect(whole.engineIncidents().count).toBe(0);
        const k = splitSeed % (log.length + 1);
        const before = new RcStateMachine({ config: TEST_CONFIG });
        for (const e of log.slice(0, k)) before.apply(e);
        const after = new RcStateMachine({ config: TEST_CONFIG });
        after.restore(before.snapshot());
        for (const e of log.slice(k))
          expect(hex(after.apply(e)), `entry ${e.index} after a split at ${k}`).toBe(results[e.index - 1]);
        expect(after.stateHash()).toBe(whole.stateHash());
        expect(after.pendingCommands()).toEqual(whole.pendingCommands());
        expect(after.nodesAwaitingEpoch()).toEqual(whole.nodesAwaitingEpoch());
        // Determinism: another replica of the same log has the same hash.
        const twin = new RcStateMachine({ config: TEST_CONFIG });
        for (const e of log) twin.apply(e);
        expect(twin.stateHash()).toBe(whole.stateHash());
      }),
      { seed: 611, numRuns: 400 },
    );
  }, 120_000); // CPU-bound: about 10 s on a quiet machine, three times that under load
});

describe("tracing (history and explain) is an observer only", () => {
  it("gives the same results, graph changes and hash, and accounts for every change and command", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const log = buildLog(steps);
        const plainChanges: unknown[] = [];
        const plain = new RcStateMachine({
          config: TEST_CONFIG,
          onGraphChanges: (i, c) => plainChanges.push([i, c]),
        });
        const tracedChanges: unknown[] = [];
        const traces: EntryTrace[] = [];
        const traced = new RcStateMachine({
          config: TEST_CONFIG,
          onGraphChanges: (i, c) => tracedChanges.push([i, c]),
          onTrace: (t) => traces.push(t),
        });
        for (const e of log) {
          const a = plain.apply(e);
          const b = traced.apply(e);
          expect(hex(b), `entry ${e.index}`).toBe(hex(a));
          const trace = traces[traces.length - 1]!;
          expect(trace.index).toBe(e.index);
          // Every command of the entry is in exactly one cause, in order; so is every change.
          const result = decodeApplyResult(a);
          expect(trace.causes.flatMap((c) => c.commands)).toEqual(result.commands);
          const changes =
            (plainChanges.at(-1) as [number, unknown[]] | undefined)?.[0] === e.index
              ? (plainChanges.at(-1) as [number, unknown[]])[1]
              : [];
          expect(trace.causes.flatMap((c) => c.changes)).toEqual(changes);
          // ... and every change and command of a cause is in exactly one graph step of its rule network.
          for (const c of trace.causes) {
            const graphSteps = c.rules.filter((r) => r.kind === "graph");
            expect(graphSteps.flatMap((r) => r.changes)).toEqual(c.changes);
            expect(graphSteps.flatMap((r) => r.commands)).toEqual(c.commands);
            for (const r of graphSteps) expect(r.rule, `${r.on} ${r.key}`).not.toBe("");
          }
          // Every event that was not applied is kept, with its outcome; a kept cause did something.
          const eventCauses = trace.causes.flatMap((c) => (c.cause.kind === "event" ? [c.cause] : []));
          for (const ev of result.events)
            if (ev.outcome !== EventOutcome.EVENT_OUTCOME_APPLIED)
              expect(eventCauses.map((c) => c.eventId)).toContain(ev.eventId);
          for (const c of trace.causes)
            expect(
              c.rules.length + c.changes.length + c.commands.length > 0 ||
                (c.cause.kind === "event" && c.cause.outcome !== "applied") ||
                c.cause.kind === "error" ||
                c.cause.kind === "rules-version",
            ).toBe(true);
        }
        expect(tracedChanges).toEqual(plainChanges);
        expect(traced.stateHash()).toBe(plain.stateHash());
      }),
      { seed: 612, numRuns: 150 },
    );
  }, 120_000); // CPU-bound: about 10 s on a quiet machine, three times that under load
});
