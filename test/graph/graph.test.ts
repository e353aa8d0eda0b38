import { describe, expect, it } from "vitest";
import {
  applyChanges,
  CompiledSchema,
  Graph,
  GraphError,
  graphFromData,
  graphHash,
  graphToData,
  HALON_SCHEMA,
} from "../../src/graph/index.js";

function smallCluster(): Graph {
  const g = new Graph(HALON_SCHEMA);
  g.addResource("cluster", "Cluster", { epoch: 0 });
  g.addResource("rack1", "Rack");
  g.addResource("enc1", "Enclosure");
  g.addResource("h1", "Host", { state: "online" });
  g.addResource("h2", "Host", { state: "online" });
  g.addResource("n1", "Node", { state: "online" });
  g.addResource("p1", "Process", { state: "online", instance: 1 });
  g.addResource("s1", "Service", { state: "up" });
  g.connect("cluster", "has", "rack1");
  g.connect("rack1", "has", "enc1");
  g.connect("enc1", "has", "h1");
  g.connect("enc1", "has", "h2");
  g.connect("h1", "runs", "n1");
  g.connect("n1", "runs", "p1");
  g.connect("p1", "provides", "s1");
  g.takeChanges();
  return g;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof GraphError) return err.code;
    throw err;
  }
  return "no error";
}

describe("schema", () => {
  it("rejects relations between unknown kinds, duplicate kinds and bad cardinalities", () => {
    const base = { kinds: [{ name: "A", root: true }, { name: "B" }], relations: [] };
    expect(codeOf(() => new CompiledSchema({ ...base, kinds: [...base.kinds, { name: "A" }] }))).toBe(
      "bad-schema",
    );
    expect(
      codeOf(
        () =>
          new CompiledSchema({
            ...base,
            relations: [{ name: "r", from: "A", to: "C", out: "many", in: "one" }],
          }),
      ),
    ).toBe("bad-schema");
    expect(
      codeOf(
        () =>
          new CompiledSchema({
            ...base,
            relations: [{ name: "r", from: "A", to: "B", out: "several" as "many", in: "one" }],
          }),
      ),
    ).toBe("bad-schema");
    expect(codeOf(() => new CompiledSchema({ kinds: [{ name: "A" }], relations: [] }))).toBe("bad-schema");
  });
});

describe("resources and attributes", () => {
  it("refuses duplicates, unknown kinds, unknown attributes and values of the wrong type", () => {
    const g = smallCluster();
    expect(codeOf(() => g.addResource("h1", "Host"))).toBe("duplicate-resource");
    expect(codeOf(() => g.addResource("x", "Planet"))).toBe("unknown-kind");
    expect(codeOf(() => g.addResource("", "Host"))).toBe("bad-id");
    expect(codeOf(() => g.setAttr("h1", "colour", "red"))).toBe("unknown-attribute");
    expect(codeOf(() => g.setAttr("h1", "state", "sleeping"))).toBe("bad-attribute-value");
    expect(codeOf(() => g.setAttr("p1", "instance", 1.5))).toBe("bad-attribute-value");
    expect(codeOf(() => g.setAttr("p1", "instance", Number.NaN))).toBe("bad-attribute-value");
    expect(codeOf(() => g.setAttr("nope", "state", "online"))).toBe("no-such-resource");
    // Nothing was changed by the refusals.
    expect(g.takeChanges()).toEqual([]);
    expect(g.attr("h1", "state")).toBe("online");
  });

  it("records a set with its old value, and nothing for an unchanged value", () => {
    const g = smallCluster();
    g.setAttr("h1", "state", "online");
    g.setAttr("h1", "state", "transient");
    expect(g.takeChanges()).toEqual([
      { op: "set", id: "h1", key: "state", value: "transient", old: "online" },
    ]);
  });

  it("copies JSON values in, so the caller's later mutation changes nothing", () => {
    const g = smallCluster();
    g.addResource("pool", "Pool", { epoch: 0 });
    const vector = ["d1"];
    g.setAttr("pool", "failureVector", vector);
    vector.push("d2");
    expect(g.attr("pool", "failureVector")).toEqual(["d1"]);
  });
});

describe("edges", () => {
  it("replaces the old edge when connecting on an at-most-one end, and records both steps", () => {
    const g = smallCluster();
    g.addResource("n2", "Node", { state: "online" });
    // Host runs Node is one-to-one: h1 moving to n2 drops h1 -> n1.
    g.connect("h1", "runs", "n2");
    expect(g.neighbours("h1", "runs")).toEqual(["n2"]);
    expect(g.neighbours("n1", "runs", "in")).toEqual([]);
    // Node runs Process: a process has one node; moving p1 to n2 drops n1 -> p1.
    g.connect("n2", "runs", "p1");
    expect(g.neighbours("n1", "runs")).toEqual([]);
    expect(g.neighbour("p1", "runs", "in")).toBe("n2");
    expect(g.takeChanges()).toEqual([
      { op: "add", id: "n2", kind: "Node", attrs: { state: "online" } },
      { op: "disconnect", from: "h1", relation: "runs", to: "n1" },
      { op: "connect", from: "h1", relation: "runs", to: "n2" },
      { op: "disconnect", from: "n1", relation: "runs", to: "p1" },
      { op: "connect", from: "n2", relation: "runs", to: "p1" },
    ]);
  });

  it("keeps many edges on a many end and refuses relations the schema lacks", () => {
    const g = smallCluster();
    g.addResource("s2", "Service", { state: "up" });
    g.addResource("p2", "Process", { state: "online" });
    g.connect("p1", "provides", "s2");
    g.connect("p2", "provides", "s1");
    expect(g.neighbours("p1", "provides")).toEqual(["s1", "s2"]);
    expect(g.neighbours("s1", "provides", "in")).toEqual(["p1", "p2"]);
    expect(codeOf(() => g.connect("h1", "provides", "s1"))).toBe("unknown-relation");
    expect(codeOf(() => g.neighbours("h1", "owns"))).toBe("unknown-relation");
    expect(codeOf(() => g.disconnect("h2", "runs", "n1"))).toBe("no-such-edge");
    // neighbour(): the one neighbour, none, or an error when there are several.
    expect(g.neighbour("s2", "provides", "in")).toBe("p1");
    expect(g.neighbour("h2", "runs")).toBeUndefined();
    expect(codeOf(() => g.neighbour("p1", "provides"))).toBe("bad-data");
    expect(codeOf(() => g.neighbour("h2", "owns"))).toBe("unknown-relation");
  });

  it("removing a resource removes its edges", () => {
    const g = smallCluster();
    g.removeResource("n1");
    expect(g.neighbours("h1", "runs")).toEqual([]);
    expect(g.neighbours("p1", "runs", "in")).toEqual([]);
    expect(g.edges).toBe(5);
  });
});

describe("queries", () => {
  it("finds by kind, neighbours in both directions and the reachable subgraph", () => {
    const g = smallCluster();
    expect(g.byKind("Host")).toEqual(["h1", "h2"]);
    expect(g.neighbours("enc1", undefined, "both")).toEqual(["h1", "h2", "rack1"]);
    expect(g.reachable("h1")).toEqual(["h1", "n1", "p1", "s1"]);
    expect(g.reachable("s1", { direction: "in" })).toEqual([
      "cluster",
      "enc1",
      "h1",
      "n1",
      "p1",
      "rack1",
      "s1",
    ]);
    expect(g.reachable("rack1", { relations: ["has"] })).toEqual(["enc1", "h1", "h2", "rack1"]);
    expect(g.edgesAmong(g.reachable("h1"))).toEqual([
      { from: "h1", relation: "runs", to: "n1" },
      { from: "n1", relation: "runs", to: "p1" },
      { from: "p1", relation: "provides", to: "s1" },
    ]);
  });
});

describe("mark and sweep", () => {
  it("removes exactly what no root reaches, in id order", () => {
    const g = smallCluster();
    g.addResource("orphan-b", "Process");
    g.addResource("orphan-a", "Service");
    g.connect("orphan-b", "provides", "orphan-a");
    g.disconnect("enc1", "has", "h2");
    g.takeChanges();
    expect(g.sweep()).toEqual(["h2", "orphan-a", "orphan-b"]);
    expect(g.has("h1")).toBe(true);
    const changes = g.takeChanges();
    expect(changes.filter((c) => c.op === "remove").map((c) => c.op === "remove" && c.id)).toEqual([
      "h2",
      "orphan-a",
      "orphan-b",
    ]);
    expect(g.sweep()).toEqual([]);
  });
});

describe("serialisation", () => {
  it("round-trips and hashes equal graphs equally, whatever the build order", () => {
    const g = smallCluster();
    const again = graphFromData(HALON_SCHEMA, JSON.parse(JSON.stringify(graphToData(g))));
    expect(graphHash(again)).toBe(graphHash(g));
    const reversed = new Graph(HALON_SCHEMA);
    const data = graphToData(g);
    for (const [id, kind, attrs] of [...data.resources].reverse()) reversed.addResource(id, kind, attrs);
    for (const [f, r, t] of [...data.edges].reverse()) reversed.connect(f, r, t);
    expect(graphHash(reversed)).toBe(graphHash(g));
    reversed.setAttr("h2", "state", "down");
    expect(graphHash(reversed)).not.toBe(graphHash(g));
  });

  it("rejects data that breaks the schema", () => {
    const g = smallCluster();
    const data = graphToData(g);
    expect(codeOf(() => graphFromData(HALON_SCHEMA, { resources: 3 }))).toBe("bad-data");
    const twoNodes = {
      resources: [...data.resources, ["n9", "Node", {}]],
      edges: [...data.edges, ["h1", "runs", "n9"]],
    };
    expect(codeOf(() => graphFromData(HALON_SCHEMA, twoNodes))).toBe("bad-data");
    const badAttr = { resources: [["h", "Host", { state: 7 }]], edges: [] };
    expect(codeOf(() => graphFromData(HALON_SCHEMA, badAttr))).toBe("bad-attribute-value");
  });

  it("a watcher replaying the changes ends with the same graph", () => {
    const source = new Graph(HALON_SCHEMA);
    const watcher = new Graph(HALON_SCHEMA);
    source.addResource("cluster", "Cluster", { epoch: 0 });
    source.addResource("r", "Rack");
    source.connect("cluster", "has", "r");
    source.addResource("e", "Enclosure");
    source.connect("r", "has", "e");
    source.setAttr("cluster", "epoch", 3);
    source.addResource("lost", "Host");
    applyChanges(watcher, source.takeChanges());
    source.sweep();
    source.unsetAttr("cluster", "epoch");
    applyChanges(watcher, source.takeChanges());
    expect(graphHash(watcher)).toBe(graphHash(source));
    expect(watcher.has("lost")).toBe(false);
  });
});
