// setAttrs(id, attrs) looks the resource up once and writes the attributes
// in key order: it must leave the graph, the recorded changes and the undo
// journal exactly as setAttr() key by key (sorted) does, including when a
// key in the middle is refused (the keys before it stay written) and when the
// transaction is undone afterwards.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareStrings, Graph, GraphError, graphHash } from "../../src/graph/index.js";
import type { GraphSchema } from "../../src/graph/index.js";

const SCHEMA: GraphSchema = {
  kinds: [
    {
      name: "R",
      root: true,
      attributes: {
        a: { type: "number" },
        b: { type: "string" },
        c: { type: "boolean" },
        d: { type: "json" },
        e: { type: "number", integer: true, min: 0 },
      },
    },
  ],
  relations: [],
};

type SetAttrs = (g: Graph, id: string, attrs: Record<string, unknown>) => void;

/** The reference: one setAttr per key, in sorted key order. */
const keyByKey: SetAttrs = (g, id, attrs) => {
  for (const k of Object.keys(attrs).sort(compareStrings)) g.setAttr(id, k, attrs[k]);
};

const value = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom("x", "y"),
  fc.boolean(),
  fc.constant(null),
  fc.constant({ k: [1, 2] }),
);
// Keys in random order, some unknown ("z"): a refusal part-way through.
const attrs = fc
  .uniqueArray(fc.tuple(fc.constantFrom("a", "b", "c", "d", "e", "z"), value), {
    selector: ([k]) => k,
    maxLength: 5,
  })
  .map((pairs) => Object.fromEntries(pairs) as Record<string, unknown>);
const call = fc.record({
  id: fc.constantFrom("r1", "r2", "missing"),
  attrs,
  undo: fc.boolean(),
});

interface Call {
  id: string;
  attrs: Record<string, unknown>;
  undo: boolean;
}

function outcome(setAttrs: SetAttrs, calls: Call[]): unknown[] {
  const g = new Graph(SCHEMA);
  g.addResource("r1", "R", { a: 1, b: "x" });
  g.addResource("r2", "R");
  g.takeChanges();
  const seen: unknown[] = [];
  for (const c of calls) {
    const sp = g.savepoint();
    let error = "";
    try {
      setAttrs(g, c.id, { ...c.attrs });
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      error = `${err.code}: ${err.message}`;
    }
    if (c.undo) g.undo(sp);
    g.commit();
    seen.push(error, g.takeChanges(), graphHash(g));
  }
  return seen;
}

function sameAsKeyByKey(setAttrs: SetAttrs): void {
  fc.assert(
    fc.property(fc.array(call, { maxLength: 12 }), (calls) => {
      expect(outcome(setAttrs, calls)).toEqual(outcome(keyByKey, calls));
    }),
    { seed: 20261203, numRuns: 300 },
  );
}

describe("setAttrs", () => {
  it("leaves the graph, its changes and its undo as setAttr key by key does", () => {
    sameAsKeyByKey((g, id, a) => g.setAttrs(id, a));
  });

  it("the comparison catches a setAttrs that writes in the caller's key order (planted bug)", () => {
    const unsorted: SetAttrs = (g, id, a) => {
      for (const k of Object.keys(a)) g.setAttr(id, k, a[k]);
    };
    expect(() => sameAsKeyByKey(unsorted)).toThrow();
  });

  it("the comparison catches a setAttrs that checks every key before writing any (planted bug)", () => {
    const allOrNothing: SetAttrs = (g, id, a) => {
      const probe = new Graph(SCHEMA);
      probe.addResource("p", "R");
      for (const k of Object.keys(a)) probe.setAttr("p", k, a[k]);
      keyByKey(g, id, a);
    };
    expect(() => sameAsKeyByKey(allOrNothing)).toThrow();
  });
});
