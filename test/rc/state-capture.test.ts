// capture() + persist(): the bytes and hash of the state at the captured
// index, however the state changes while the graph is encoded slice by slice.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Graph, HALON_SCHEMA } from "../../src/graph/index.js";
import { encodeEventBatch } from "../../src/rc/entry.js";
import { StateCapture } from "../../src/rc/state-capture.js";
import { Scenario, runningCluster } from "./harness.js";
import { MixedLoad } from "./mixed-load.js";

const shape = { hosts: 40, processesPerNode: 2, disksPerHost: 2, pools: 3 };

function busyScenario(): { s: Scenario; load: MixedLoad } {
  const s = new Scenario();
  runningCluster(s, shape);
  return { s, load: new MixedLoad(s.sm, shape, 7) };
}

function applyMixed(s: Scenario, load: MixedLoad, batches: number): void {
  for (let b = 0; b < batches; b++) {
    s.time += 500;
    s.entry(
      encodeEventBatch(
        s.time,
        Array.from({ length: 50 }, () => load.next()),
      ),
    );
  }
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("state capture", () => {
  it("persists the bytes snapshot() gave at the captured index, while entries keep being applied", async () => {
    const { s, load } = busyScenario();
    applyMixed(s, load, 10);
    const expected = Buffer.from(s.sm.snapshot());
    const capture = s.sm.capture();
    expect(capture.index).toBe(s.index);
    const persisted = capture.encoded();
    // Applied between the slices of the encoding: the capture must not see any of it.
    for (let i = 0; i < 20; i++) {
      applyMixed(s, load, 1);
      await new Promise((r) => setImmediate(r));
    }
    // Graph changes of every kind, resources removed and added under captured ids included.
    const g = s.sm.graph;
    g.removeResource("proc-3-0");
    g.addResource("proc-3-0", "Process", { state: "stopped" });
    g.setAttr("host-5", "state", "down");
    g.disconnect("host-7", "has", "disk-7-0");
    g.removeResource("disk-7-0");
    const { bytes, hash } = await persisted;
    expect(Buffer.from(bytes).equals(expected)).toBe(true);
    expect(hash).toBe(sha(expected));
    expect(s.sm.snapshot().length).not.toBe(expected.length); // the live state did move on
  });

  it("gives the state hash: a capture at rest equals stateHash(), and a restored twin agrees", async () => {
    const { s, load } = busyScenario();
    applyMixed(s, load, 5);
    const { bytes, hash } = await s.sm.capture().encoded();
    expect(hash).toBe(s.sm.stateHash());
    const twin = new Scenario();
    twin.sm.restore(bytes);
    expect(twin.sm.stateHash()).toBe(hash);
  });

  it("several captures at once each keep their own index", async () => {
    const { s, load } = busyScenario();
    const first = s.sm.snapshot();
    const a = s.sm.capture();
    applyMixed(s, load, 3);
    const second = s.sm.snapshot();
    const b = s.sm.capture();
    applyMixed(s, load, 3);
    const [ra, rb] = await Promise.all([a.encoded(), b.encoded()]);
    expect(Buffer.from(ra.bytes).equals(Buffer.from(first))).toBe(true);
    expect(Buffer.from(rb.bytes).equals(Buffer.from(second))).toBe(true);
  });

  it("re-encodes exactly what changed since the last capture, changes undone by a failed transaction included", async () => {
    const { s, load } = busyScenario();
    await s.sm.capture().encoded(); // every resource's encoding cached
    const g = s.sm.graph;
    // A transaction that changes attributes and edges, then is undone: the cache must not keep its state.
    const sp = g.savepoint();
    g.setAttr("host-2", "state", "down");
    g.unsetAttr("host-3", "address");
    g.disconnect("host-4", "has", "disk-4-0");
    g.connect("host-5", "has", "disk-4-0");
    g.undo(sp);
    g.commit();
    let { bytes } = await s.sm.capture().encoded();
    expect(Buffer.from(bytes).equals(Buffer.from(s.sm.snapshot()))).toBe(true);
    // Changes that stay, and entries applied through the state machine.
    g.setAttr("host-2", "state", "down");
    g.unsetAttr("host-3", "address");
    g.disconnect("host-4", "has", "disk-4-0");
    g.connect("host-5", "has", "disk-4-0");
    applyMixed(s, load, 5);
    ({ bytes } = await s.sm.capture().encoded());
    expect(Buffer.from(bytes).equals(Buffer.from(s.sm.snapshot()))).toBe(true);
  });

  it("planted bug: an encoding kept after its resource changed shows in the next capture", async () => {
    const { s } = busyScenario();
    await s.sm.capture().encoded();
    const v = (s.sm.graph as unknown as { vertices: Map<string, { enc?: string }> }).vertices.get("host-2")!;
    const stale = v.enc;
    s.sm.graph.setAttr("host-2", "state", "down");
    v.enc = stale; // the invalidation undone by hand
    const { bytes } = await s.sm.capture().encoded();
    expect(Buffer.from(bytes).equals(Buffer.from(s.sm.snapshot()))).toBe(false);
  });

  it("a released capture keeps no copies, and cannot be persisted", async () => {
    const { s } = busyScenario();
    const c = s.sm.capture();
    c.release();
    await expect(c.encoded()).rejects.toThrow(/released/);
    // No frozen view left: changes copy nothing (the graph keeps no list of views).
    s.sm.graph.setAttr("host-1", "state", "down");
    expect((s.sm.graph as unknown as { frozen: unknown[] }).frozen).toHaveLength(0);
  });

  it("planted bug: a graph that does not copy before a change leaks later changes into the capture", async () => {
    const { s } = busyScenario();
    const expected = Buffer.from(s.sm.snapshot());
    // The copy-on-write step switched off: the test above must then fail.
    const g = s.sm.graph as unknown as { preserve: (v: unknown) => void };
    g.preserve = () => undefined;
    const capture = s.sm.capture();
    s.sm.graph.setAttr("host-5", "state", "down");
    const { bytes } = await capture.encoded();
    expect(Buffer.from(bytes).equals(expected)).toBe(false);
  });

  it("encodes an empty graph and slices of one resource the same as snapshot()", async () => {
    const s = new Scenario();
    expect(Buffer.from((await s.sm.capture().encoded()).bytes).equals(Buffer.from(s.sm.snapshot()))).toBe(
      true,
    );
    const g = new Graph(HALON_SCHEMA);
    g.addResource("c", "Cluster", {});
    g.addResource("r", "Rack", {});
    g.connect("c", "has", "r");
    // A field encoded later sees the value as it is then: the caller passes only copies that do not change.
    const later = { n: 2 };
    const c = new StateCapture(
      1,
      [{ name: '"a"', json: "1" }],
      g.freeze(),
      [
        { name: '"y"', later: () => JSON.stringify(later) },
        { name: '"z"', json: "2" },
      ],
      1,
    );
    g.setAttr("c", "name", "x");
    g.removeResource("r");
    const { bytes } = await c.encoded();
    expect(JSON.parse(Buffer.from(bytes).toString())).toEqual({
      a: 1,
      graph: {
        edges: [["c", "has", "r"]],
        resources: [
          ["c", "Cluster", {}],
          ["r", "Rack", {}],
        ],
      },
      y: { n: 2 },
      z: 2,
    });
  });

  it("is taken between entries only", () => {
    const { s } = busyScenario();
    s.sm.graph.savepoint();
    expect(() => s.sm.capture()).toThrow(/inside a transaction/);
    s.sm.graph.commit();
  });
});
