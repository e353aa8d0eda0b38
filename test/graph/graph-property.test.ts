// Random sequences of operations: whatever happens, the graph's invariants
// hold, serialisation round-trips to the same hash, and a watcher replaying
// the recorded changes stays identical to the source.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyChanges,
  Graph,
  GraphError,
  graphFromData,
  graphHash,
  graphToData,
} from "../../src/graph/index.js";
import type { GraphSchema } from "../../src/graph/index.js";

const SCHEMA: GraphSchema = {
  kinds: [
    { name: "Root", root: true, attributes: { n: { type: "number" } } },
    { name: "A", attributes: { n: { type: "number" }, tag: { type: "string" } } },
    { name: "B", attributes: { n: { type: "number" }, data: { type: "json" } } },
  ],
  relations: [
    { name: "owns", from: "Root", to: "A", out: "many", in: "one" },
    { name: "link", from: "A", to: "B", out: "one", in: "many" },
    { name: "link", from: "B", to: "B", out: "one", in: "one" },
    { name: "peer", from: "A", to: "A", out: "many", in: "many" },
  ],
};

const ids = ["r", "a1", "a2", "a3", "b1", "b2", "b3"];
const kindOf = (id: string): string => (id === "r" ? "Root" : id.startsWith("a") ? "A" : "B");

const op = fc.oneof(
  fc.record({ t: fc.constant("add" as const), id: fc.constantFrom(...ids) }),
  fc.record({ t: fc.constant("remove" as const), id: fc.constantFrom(...ids) }),
  fc.record({
    t: fc.constant("set" as const),
    id: fc.constantFrom(...ids),
    n: fc.integer({ min: -5, max: 5 }),
  }),
  fc.record({
    t: fc.constant("connect" as const),
    from: fc.constantFrom(...ids),
    rel: fc.constantFrom("owns", "link", "peer"),
    to: fc.constantFrom(...ids),
  }),
  fc.record({
    t: fc.constant("disconnect" as const),
    from: fc.constantFrom(...ids),
    rel: fc.constantFrom("owns", "link", "peer"),
    to: fc.constantFrom(...ids),
  }),
  fc.record({ t: fc.constant("sweep" as const) }),
  fc.record({
    t: fc.constant("tag" as const),
    id: fc.constantFrom("a1", "a2", "a3"),
    tag: fc.constantFrom("x", "y", undefined),
  }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function run(g: Graph, o: Op): void {
  try {
    switch (o.t) {
      case "add":
        g.addResource(o.id, kindOf(o.id), { n: 0 });
        break;
      case "remove":
        g.removeResource(o.id);
        break;
      case "set":
        g.setAttr(o.id, "n", o.n);
        break;
      case "connect":
        g.connect(o.from, o.rel, o.to);
        break;
      case "disconnect":
        g.disconnect(o.from, o.rel, o.to);
        break;
      case "sweep":
        g.sweep();
        break;
      case "tag":
        if (o.tag === undefined) g.unsetAttr(o.id, "tag");
        else g.setAttr(o.id, "tag", o.tag);
        break;
    }
  } catch (err) {
    if (!(err instanceof GraphError)) throw err;
  }
}

describe("graph under random operations", () => {
  it("keeps cardinalities, round-trips, and lets a watcher follow", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const g = new Graph(SCHEMA);
        const watcher = new Graph(SCHEMA);
        for (const o of ops) {
          run(g, o);
          applyChanges(watcher, g.takeChanges());
        }
        for (const id of g.ids()) {
          if (kindOf(id) !== "Root") expect(g.neighbours(id, "owns", "in").length).toBeLessThanOrEqual(1);
          expect(g.neighbours(id, "link", "out").length).toBeLessThanOrEqual(1);
          if (kindOf(id) === "B") {
            const fromB = g.neighbours(id, "link", "in").filter((x) => kindOf(x) === "B");
            expect(fromB.length).toBeLessThanOrEqual(1);
          }
        }
        const h = graphHash(g);
        expect(graphHash(watcher)).toBe(h);
        expect(graphHash(graphFromData(SCHEMA, graphToData(g)))).toBe(h);
      }),
      { seed: 20261125, numRuns: 300 },
    );
  });

  it("lists its ids sorted and keeps its attribute index, through adds, removes, undone transactions and freezes", () => {
    const step = fc.oneof(
      op,
      fc.record({ t: fc.constant("tx" as const), undo: fc.boolean(), ops: fc.array(op, { maxLength: 8 }) }),
      fc.record({ t: fc.constant("freeze" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const g = new Graph(SCHEMA);
        g.indexBy("A", "tag");
        // The model: which ids exist, from the graph's own answers (has), never from ids().
        const expected = () => [...ids].filter((id) => g.has(id)).sort();
        // The index against a scan of the attributes; its version moves whenever a member set does.
        let lastVersion = g.indexVersion("A", "tag");
        let lastSets = "|"; // both values empty
        const checkIndex = () => {
          const sets = ["x", "y"].map((t) => [...g.withAttr("A", "tag", t)].sort().join(",")).join("|");
          const scanned = ["x", "y"]
            .map((t) =>
              ids
                .filter((id) => g.has(id) && kindOf(id) === "A" && g.attr(id, "tag") === t)
                .sort()
                .join(","),
            )
            .join("|");
          expect(sets).toBe(scanned);
          if (sets !== lastSets) expect(g.indexVersion("A", "tag")).not.toBe(lastVersion);
          lastSets = sets;
          lastVersion = g.indexVersion("A", "tag");
        };
        const views: { view: ReturnType<Graph["freeze"]>; ids: string[] }[] = [];
        for (const s of steps) {
          if (s.t === "freeze") views.push({ view: g.freeze(), ids: expected() });
          else if (s.t === "tx") {
            const sp = g.savepoint();
            for (const o of s.ops) {
              run(g, o);
              expect(g.ids()).toEqual(expected());
              checkIndex();
            }
            if (s.undo) g.undo(sp);
            g.commit();
          } else run(g, s);
          expect(g.ids()).toEqual(expected());
          checkIndex();
        }
        // A frozen view keeps the ids it had, whatever changed since.
        for (const v of views) expect([...v.view.ids]).toEqual(v.ids);
        for (const v of views) v.view.release();
      }),
      { seed: 20261203, numRuns: 300 },
    );
  });
});
