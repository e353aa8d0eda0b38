// The coordinator commands' pure parts: events from JSON, the graph as a tree.
import { describe, expect, it } from "vitest";
import { renderChange, renderTree } from "../../src/cli/graph-tree.js";
import { parseEvents } from "../../src/cli/event-json.js";
import { GraphChangeOp, type GraphView } from "../../src/gen/halon/v1/client.js";

describe("events from JSON", () => {
  it("takes one event or an array, filling in a missing id and source", () => {
    const [a] = parseEvents('{"stripingError":{"poolId":"p","diskId":"d"}}', () => "new-id");
    expect(a).toMatchObject({
      id: "new-id",
      source: "operator",
      stripingError: { poolId: "p", diskId: "d" },
    });
    const list = parseEvents('[{"id":"x","source":"n1","nodeSilent":{"nodeId":"n1"}},{"id":"y"}]', () => "z");
    expect(list.map((e) => e.id)).toEqual(["x", "y"]);
  });

  it("names what is wrong", () => {
    expect(() => parseEvents("{", () => "i")).toThrow(/not JSON/);
    expect(() => parseEvents('{"stripingErr":{}}', () => "i")).toThrow(/unknown field "stripingErr"/);
    expect(() => parseEvents("[1]", () => "i")).toThrow(/event \[0\] must be a JSON object/);
    expect(() => parseEvents("[]", () => "i")).toThrow(/no events/);
  });
});

describe("the graph as text", () => {
  const attrs = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)]));
  const view: GraphView = {
    resources: [
      { id: "cluster", kind: "Cluster", attributes: attrs({ epoch: 1 }) },
      { id: "d1", kind: "Disk", attributes: attrs({ state: "failed" }) },
      { id: "h1", kind: "Host", attributes: attrs({ state: "online" }) },
      { id: "n1", kind: "Node", attributes: attrs({ state: "online", ackedEpoch: 1 }) },
      { id: "pool", kind: "Pool", attributes: attrs({ epoch: 1, failureVector: ["d1"] }) },
      { id: "r", kind: "Rack", attributes: {} },
      { id: "e", kind: "Enclosure", attributes: {} },
    ],
    edges: [
      { from: "cluster", relation: "has", to: "pool" },
      { from: "cluster", relation: "has", to: "r" },
      { from: "e", relation: "has", to: "h1" },
      { from: "h1", relation: "has", to: "d1" },
      { from: "h1", relation: "runs", to: "n1" },
      { from: "pool", relation: "uses", to: "d1" },
      { from: "r", relation: "has", to: "e" },
    ],
  };

  it("draws the topology as a tree, then the pools", () => {
    expect(renderTree(view).split("\n")).toEqual([
      "cluster (Cluster)  epoch=1",
      "└─ r (Rack)",
      "   └─ e (Enclosure)",
      "      └─ h1 (Host)  online",
      "         ├─ d1 (Disk)  failed",
      "         └─ n1 (Node)  online  ackedEpoch=1",
      "",
      "pools:",
      "  pool  epoch=1  disks: d1  failed: d1",
    ]);
    expect(renderTree({ resources: [], edges: [] })).toContain("empty");
  });

  it("prints a change as a line", () => {
    const c = {
      op: GraphChangeOp.GRAPH_CHANGE_OP_SET,
      id: "n1",
      kind: "",
      key: "state",
      valueJson: '"transient"',
      oldJson: '"online"',
      from: "",
      relation: "",
      to: "",
      attributes: {},
    };
    expect(renderChange(7, c)).toBe('#7 set n1.state = "transient" (was "online")');
  });
});
