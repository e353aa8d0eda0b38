import { AssertionError } from "node:assert";
import { describe, expect, it } from "vitest";
import { Engine, scenario } from "../../src/cep/index.js";
import { heartbeat, nodeSilent, type Ev, type Out } from "./fixtures.js";

const engine = new Engine<Ev, Out>({ rules: [nodeSilent] });

describe("the scenario kit", () => {
  it("reads like the rule's specification", () => {
    scenario(engine, { checkSnapshots: true })
      .at(0, heartbeat("n1"))
      .at(4999)
      .expectNothing()
      .at(5000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 1 })
      .expectPhase("node-silent", "n1", "transient")
      .expectLocal("node-silent", "n1", { attempts: 1 })
      .restart() // as a replica restarting from a snapshot
      .at(7000)
      .expectOutputs({ time: 7000, key: "n1", data: { command: "respawn-node", node: "n1", attempt: 2 } })
      .at(7001, heartbeat("n1"))
      .expectPhase("node-silent", "n1", "online");
  });

  it("fails with what was expected and what came out", () => {
    const s = scenario(engine).at(0, heartbeat("n1")).at(5000);
    let caught: unknown;
    try {
      s.expectEmitted({ command: "mark-down", node: "n1" });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AssertionError);
    expect((caught as Error).message).toContain('expected [{"command":"mark-down","node":"n1"}]');
    expect((caught as Error).message).toContain('"command":"respawn-node"');
    expect(() => scenario(engine).expectPhase("node-silent", "n1", "online")).toThrow(
      /phase of node-silent\/n1/,
    );
    expect(() => scenario(engine).expectLocal("node-silent", "zz", {})).toThrow(/has no instance/);
  });

  it("keeps the history and explain traces", () => {
    const s = scenario(engine, { explain: true }).at(0, heartbeat("a"), heartbeat("b")).at(5000);
    expect(s.history.map((o) => o.key)).toEqual(["a", "b"]);
    expect(s.traces).toHaveLength(3);
    expect(s.traces[2]?.map((t) => t.cause)).toEqual(["timeout", "timeout"]);
  });
});
