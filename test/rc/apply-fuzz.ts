// Arbitrary inputs for the state machine's properties (apply-fuzz.test.ts):
// events with numeric fields at their bounds and past them, random ids,
// random timings (huge jumps, out of range), random topology declarations,
// garbage entries, and "poison": a process instance written by a build
// without the bounds (2^53 - 1), so that respawns and starts fail inside the
// coordinator and the rollback is exercised.
import fc from "fast-check";
import type { DeclaredHost, Event } from "../../src/gen/halon/v1/events.js";
import { BOUNDS } from "../../src/rc/validate.js";

export const HOSTS = 3;

const nodeIds = fc.integer({ min: 0, max: HOSTS }).map((i) => `node-${i}`);
const hostIds = fc.integer({ min: 0, max: HOSTS }).map((i) => `host-${i}`);
const procIds = fc
  .tuple(fc.integer({ min: 0, max: HOSTS }), fc.integer({ min: 0, max: 1 }))
  .map(([h, j]) => `proc-${h}-${j}`);
const diskIds = fc
  .tuple(fc.integer({ min: 0, max: HOSTS }), fc.integer({ min: 0, max: 1 }))
  .map(([h, j]) => `disk-${h}-${j}`);
const known = fc.oneof(
  nodeIds,
  hostIds,
  procIds,
  diskIds,
  fc.constantFrom("pool-0", "pool-1", "cluster", "rack-0", "enc-0", "svc-0-0"),
);
const junk = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("", "a b", "x".repeat(257), "tab\there", "__proto__", "constructor"),
);
/** Mostly ids of the right kind, sometimes of another kind, sometimes junk (empty, spaces, too long...). */
function idOf(typed: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: typed },
    { weight: 2, arbitrary: known },
    { weight: 1, arbitrary: junk },
  );
}
export const id = idOf(known);
const node = idOf(nodeIds);
const host = idOf(hostIds);
const proc = idOf(procIds);
const disk = idOf(diskIds);
const pool = idOf(fc.constantFrom("pool-0", "pool-1"));

/** A uint64 field: small values, the bounds and just past them, up to 2^53 - 1. */
export const bigCount: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 8 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      BOUNDS.instance - 1,
      BOUNDS.instance,
      BOUNDS.instance + 1,
      2 ** 52,
      Number.MAX_SAFE_INTEGER - 1,
      Number.MAX_SAFE_INTEGER,
    ),
  },
  { weight: 1, arbitrary: fc.maxSafeNat() },
);

const text = fc.oneof({ weight: 5, arbitrary: fc.string({ maxLength: 8 }) }, fc.constant("r".repeat(4097)));

const declaredHost: fc.Arbitrary<DeclaredHost> = fc.record({
  id: fc.oneof(
    id,
    fc.integer({ min: 0, max: 6 }).map((i) => `host-${i}`),
  ),
  rackId: fc.oneof(fc.constant("rack-0"), id),
  enclosureId: fc.oneof(fc.constant("enc-0"), id),
  address: text,
  infraEndpoint: text,
  nodeId: fc.oneof(
    fc.constant(""),
    id,
    fc.integer({ min: 0, max: 6 }).map((i) => `node-${i}`),
  ),
  disks: fc.array(fc.record({ id, serial: text }), { maxLength: 2 }),
  processes: fc.array(fc.record({ id, command: text, serviceIds: fc.array(id, { maxLength: 2 }) }), {
    maxLength: 2,
  }),
});

export type Body = Omit<Event, "id" | "source">;

export const body: fc.Arbitrary<Body> = fc.oneof(
  fc.tuple(node, bigCount).map(([nodeId, epoch]) => ({ nodeHeartbeat: { nodeId, epoch } })),
  node.map((nodeId) => ({ nodeSilent: { nodeId } })),
  fc.tuple(node, host, bigCount).map(([nodeId, hostId, epoch]) => ({
    nodeJoined: { nodeId, hostId, address: "", epoch },
  })),
  fc.tuple(id, id, bigCount).map(([n, h, epoch]) => ({
    nodeJoined: { nodeId: n.replace(/^host/, "node"), hostId: h, address: "", epoch },
  })),
  fc.tuple(proc, bigCount, text).map(([processId, instance, reason]) => ({
    processFailed: { processId, instance, reason },
  })),
  // A current failure of a running process: starts a recovery (whose timers then fire).
  procIds.map((processId) => ({ processFailed: { processId, instance: 1, reason: "" } })),
  procIds.map((processId) => ({ processFailed: { processId, instance: 2, reason: "" } })),
  fc.tuple(proc, bigCount).map(([processId, instance]) => ({ processStarted: { processId, instance } })),
  fc.tuple(proc, bigCount).map(([processId, instance]) => ({
    processLocalRestart: { processId, instance, reason: "" },
  })),
  fc.tuple(pool, disk).map(([poolId, diskId]) => ({ stripingError: { poolId, diskId } })),
  disk.map((diskId) => ({ diskFailed: { diskId } })),
  fc.tuple(disk, text).map(([diskId, serial]) => ({ diskReplaced: { diskId, serial } })),
  node.map((nodeId) => ({ nodeDrained: { nodeId } })),
  node.map((nodeId) => ({ epochRequest: { nodeId } })),
  fc
    .tuple(fc.integer({ min: 0, max: 80 }), fc.boolean(), fc.oneof(fc.constant(""), id))
    .map(([n, ok, nodeId]) => ({
      commandResult: { commandId: `c${n}`, ok, detail: "", nodeId },
    })),
  fc.tuple(id, fc.integer({ min: 0, max: 3 })).map(([type, n]) => ({
    opaque: { type, payload: Buffer.alloc(n === 3 ? BOUNDS.opaquePayloadBytes + 1 : n) },
  })),
  fc.record({
    topologyDeclared: fc.record({
      clusterName: fc.oneof(fc.constant(""), id),
      hosts: fc.array(declaredHost, { maxLength: 2 }),
      pools: fc.array(fc.record({ id, diskIds: fc.array(id, { maxLength: 3 }) }), { maxLength: 2 }),
    }),
  }),
  // Two bodies at once.
  fc.tuple(id, id).map(([a, b]) => ({ diskFailed: { diskId: a }, nodeSilent: { nodeId: b } })),
  // No body.
  fc.constant({}),
);

export type Step =
  | { k: "events"; dt: number; bodies: Body[]; reuse: number }
  | { k: "tick"; dt: number }
  | { k: "time"; at: number }
  | { k: "garbage"; bytes: Uint8Array }
  | { k: "poison"; process: string }
  | { k: "rules"; disabled: string[] };

export const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant("events" as const),
      dt: fc.oneof(fc.integer({ min: 0, max: 4_000 }), fc.constant(0)),
      bodies: fc.array(body, { minLength: 1, maxLength: 3 }),
      reuse: fc.integer({ min: 0, max: 6 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("tick" as const),
      dt: fc.oneof(fc.integer({ min: 1, max: 40_000 }), fc.constant(3_600_000)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("time" as const),
      at: fc.constantFrom(0, BOUNDS.timeMs, BOUNDS.timeMs + 1, Number.MAX_SAFE_INTEGER),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant("garbage" as const), bytes: fc.uint8Array({ maxLength: 40 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("poison" as const),
      process: fc
        .tuple(fc.integer({ min: 0, max: HOSTS - 1 }), fc.integer({ min: 0, max: 1 }))
        .map(([h, j]) => `proc-${h}-${j}`),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("rules" as const),
      disabled: fc.subarray(["process-recovery", "node-recovery"]),
    }),
  },
);

/** How many runs: FUZZ_RUNS (make fuzz) or the default for `make test`. */
export function runs(fallback: number): number {
  if (process.env.FUZZ_RUNS === undefined || process.env.FUZZ_RUNS === "") return fallback;
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** A seed from FUZZ_SEED (to replay a failure of make fuzz), else the fixed one of `make test`. */
export function seed(fallback: number): number {
  if (process.env.FUZZ_SEED === undefined || process.env.FUZZ_SEED === "") return fallback;
  const n = Number(process.env.FUZZ_SEED);
  return Number.isSafeInteger(n) ? n : fallback;
}
