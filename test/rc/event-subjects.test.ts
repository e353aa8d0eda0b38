// eventSubjects() names an event's body and the ids it names, for the history
// (explain, `halon history`). It reads the body fields by name (EVENT_BODIES)
// rather than walking Object.entries() of the event: the two must agree on
// every event a replica applies, which is always a decoded Event, with or
// without a body, with several bodies (rejected, but traced), with unknown fields.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Event } from "../../src/gen/halon/v1/events.js";
import { eventSubjects } from "../../src/rc/trace.js";
import { EVENT_BODIES } from "../../src/rc/validate.js";

/** The walk eventSubjects() did before: the first object-valued field but id and source. */
function byEntries(ev: Event): { name: string; subjects: string[] } {
  for (const [name, body] of Object.entries(ev)) {
    if (name === "id" || name === "source" || body === undefined || body === null || typeof body !== "object")
      continue;
    const ids = new Set<string>();
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      if (k.endsWith("Id") && typeof v === "string" && v !== "") ids.add(v);
      if (k.endsWith("Ids") && Array.isArray(v)) for (const x of v) if (typeof x === "string") ids.add(x);
    }
    return { name, subjects: [...ids].sort() };
  }
  return { name: "", subjects: [] };
}

const id = fc.constantFrom("", "n1", "n2", "p1", "d1", "pool-1", "h1");
const bodies: Record<(typeof EVENT_BODIES)[number], fc.Arbitrary<unknown>> = {
  processFailed: fc.record({ processId: id, instance: fc.nat(3), reason: fc.string() }),
  processStarted: fc.record({ processId: id, instance: fc.nat(3) }),
  processLocalRestart: fc.record({ processId: id, instance: fc.nat(3), reason: fc.string() }),
  nodeHeartbeat: fc.record({ nodeId: id, epoch: fc.nat(3) }),
  nodeJoined: fc.record({ nodeId: id, hostId: id, address: fc.string(), epoch: fc.nat(3) }),
  nodeSilent: fc.record({ nodeId: id }),
  stripingError: fc.record({ poolId: id, diskId: id }),
  diskFailed: fc.record({ diskId: id }),
  diskReplaced: fc.record({ diskId: id, serial: fc.string() }),
  nodeDrained: fc.record({ nodeId: id }),
  topologyDeclared: fc.record({
    clusterName: fc.string(),
    pools: fc.array(fc.record({ id, diskIds: fc.array(id, { maxLength: 3 }) }), { maxLength: 2 }),
  }),
  epochRequest: fc.record({ nodeId: id }),
  commandResult: fc.record({ commandId: id, ok: fc.boolean(), detail: fc.string(), nodeId: id }),
  opaque: fc.record({ type: fc.string(), payload: fc.uint8Array({ maxLength: 4 }) }),
};
// Zero, one or several bodies, through the wire as a replica gets them.
const event = fc
  .record({
    id,
    source: id,
    with: fc.subarray([...EVENT_BODIES], { maxLength: 3 }),
  })
  .chain(({ id: evId, source, with: names }) =>
    fc.tuple(...names.map((n) => bodies[n])).map((values) => {
      const partial: Record<string, unknown> = { id: evId, source };
      names.forEach((n, i) => (partial[n] = values[i]));
      return Event.decode(Event.encode(Event.fromPartial(partial)).finish());
    }),
  );

function agrees(subjects: (ev: Event) => { name: string; subjects: string[] }): void {
  fc.assert(
    fc.property(event, (ev) => {
      expect(subjects(ev)).toEqual(byEntries(ev));
    }),
    { seed: 20261203, numRuns: 500 },
  );
}

describe("eventSubjects", () => {
  it("a decoded event has id, source and the bodies of EVENT_BODIES, in that order", () => {
    expect(Object.keys(Event.decode(new Uint8Array()))).toEqual(["id", "source", ...EVENT_BODIES]);
  });

  it("agrees with a walk over the event's entries", () => {
    agrees(eventSubjects);
  });

  it("the comparison catches a body list that misses a body (planted bug)", () => {
    const missing = EVENT_BODIES.filter((b) => b !== "diskReplaced");
    const planted = (ev: Event): { name: string; subjects: string[] } => {
      for (const name of missing) {
        const body = ev[name];
        if (body !== undefined) return byEntries({ ...Event.fromPartial({}), [name]: body } as Event);
      }
      return { name: "", subjects: [] };
    };
    expect(() => agrees(planted)).toThrow();
  });
});
