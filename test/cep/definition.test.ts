import { describe, expect, it } from "vitest";
import { CepDefinitionError, Engine, defineFlow, defineRule } from "../../src/cep/index.js";

type E = { kind: string; id: string };
const always = () => true;
const base = { key: (e: E) => e.id, local: () => null };

describe("rule definitions are checked when defined", () => {
  it("rejects a non-final phase without an exit", () => {
    expect(() =>
      defineRule<E, never, null>({
        ...base,
        name: "stuck",
        initial: "waiting",
        phases: {
          waiting: { on: [{ when: always, goto: "waiting" }] },
          done: { final: true },
        },
      }),
    ).toThrow(/phase "waiting" has no exit/);
  });

  it("accepts a phase whose only exit is its timeout", () => {
    const r = defineRule<E, never, null>({
      ...base,
      name: "ok",
      initial: "waiting",
      phases: {
        waiting: { on: [{ when: always }], timeout: { after: 10, goto: "done" } },
        done: { final: true },
      },
    });
    expect(r.phases.waiting?.timeoutAfter).toBe(10);
  });

  it.each([
    ["an unknown goto", { a: { on: [{ when: always, goto: "nowhere" }] } }, /goto "nowhere" is not a phase/],
    [
      "an unreachable phase",
      {
        a: { on: [{ when: always, goto: "end" }] },
        b: { on: [{ when: always, goto: "end" }] },
        end: { final: true },
      },
      /"b" cannot be reached/,
    ],
    [
      "a final phase with alternatives",
      { a: { on: [{ when: always, goto: "end" }] }, end: { final: true, on: [{ when: always }] } },
      /is final/,
    ],
    [
      "a non-positive timeout",
      { a: { on: [{ when: always }], timeout: { after: 0, goto: "end" } }, end: { final: true } },
      /positive/,
    ],
    [
      "a reserved timer name",
      { a: { on: [{ when: always, goto: "end" }], timers: [{ timer: "$x" }] }, end: { final: true } },
      /timer must be/,
    ],
    ["a missing when", { a: { on: [{ goto: "end" }] }, end: { final: true } }, /when must be a function/],
  ])("rejects %s", (_label, phases, message) => {
    expect(() => defineRule({ ...base, name: "r", initial: "a", phases: phases as never })).toThrow(message);
  });

  it("rejects bad names, initial phases and bounds", () => {
    const phases = { a: { on: [{ when: always, goto: "end" as const }] }, end: { final: true } };
    expect(() => defineRule({ ...base, name: "", initial: "a", phases })).toThrow(CepDefinitionError);
    expect(() => defineRule({ ...base, name: "a/b", initial: "a", phases })).toThrow(/"\/"/);
    expect(() => defineRule({ ...base, name: "r", initial: "zz" as "a", phases })).toThrow(
      /initial phase "zz"/,
    );
    expect(() =>
      defineRule({ ...base, name: "r", initial: "a", phases, bounds: { maxInstances: 0 } }),
    ).toThrow(/maxInstances/);
    expect(() =>
      defineRule({ ...base, name: "r", initial: "a", phases, version: 2, migrations: [{ from: 2 }] }),
    ).toThrow(/migration from 2/);
  });

  it("rejects engines with duplicate names or foreign objects", () => {
    const r = defineRule<E, never, null>({
      ...base,
      name: "r",
      initial: "a",
      phases: { a: { on: [{ when: always, goto: "end" }] }, end: { final: true } },
    });
    const f = defineFlow<E, never>("r", (b) => b.input.filter(() => false) as never);
    expect(() => new Engine({ rules: [r, f] })).toThrow(/two rules or flows are named "r"/);
    expect(() => new Engine({ rules: [{ name: "x" } as never] })).toThrow(/not a rule or flow/);
  });
});
