// The history remembers the most recent commands (as many as it keeps
// causes), to file a command result under what its command was about. It
// forgets the oldest first, in the order commands were first seen, like a
// Map's insertion order: checked against that model over random sequences of
// commands (ids seen again included) and answers, with a planted bug.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Command } from "../../src/gen/halon/v1/events.js";
import { History } from "../../src/rc/history.js";
import type { CauseTrace } from "../../src/rc/trace.js";

type Op = { t: "issue"; k: number } | { t: "answer"; k: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant("issue" as const), k: fc.nat(12) }),
  fc.record({ t: fc.constant("answer" as const), k: fc.nat(12) }),
);

/** Which command ids a history of `max` commands remembers: first-seen order, oldest forgotten. */
interface Model {
  issue(id: string): void;
  has(id: string): boolean;
}

const mapOrder = (max: number): Model => {
  const m = new Map<string, true>();
  return {
    issue(id) {
      m.set(id, true);
      if (m.size > max) m.delete(m.keys().next().value as string);
    },
    has: (id) => m.has(id),
  };
};

function cause(c: CauseTrace["cause"], commands: Command[] = []): CauseTrace {
  return { cause: c, rules: [], changes: [], commands };
}

function agrees(model: (max: number) => Model): void {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 80 }), (max, ops) => {
      const history = new History(max);
      const expected = model(max);
      let index = 0;
      for (const o of ops) {
        const id = `c${o.k}`;
        if (o.t === "issue") {
          const command = Command.fromPartial({ id, target: `node-${o.k}` });
          history.record({ index: ++index, timeMs: index, causes: [cause({ kind: "timers" }, [command])] });
          expected.issue(id);
        } else {
          const answer = cause({
            kind: "event",
            eventId: `e${index}`,
            name: "commandResult",
            source: "",
            subjects: [id],
            outcome: "applied",
            code: "",
            reason: "",
          });
          history.record({ index: ++index, timeMs: index, causes: [answer] });
          // Filed under the command's target only while the command is remembered.
          const filed = history.recent(1)[0]!.resources.includes(`node-${o.k}`);
          expect(filed).toBe(expected.has(id));
        }
      }
    }),
    { seed: 20261203, numRuns: 400 },
  );
}

describe("history's recent commands", () => {
  it("are forgotten oldest first, in the order first seen", () => {
    agrees(mapOrder);
  });

  it("stays right after thousands of commands (its list of ids is compacted now and then)", () => {
    const history = new History(3);
    const issue = (k: number, index: number): void =>
      history.record({
        index,
        timeMs: index,
        causes: [cause({ kind: "timers" }, [Command.fromPartial({ id: `c${k}`, target: `node-${k}` })])],
      });
    for (let k = 0; k < 5_000; k++) issue(k, k + 1);
    issue(4_998, 5_001); // seen again: keeps its place
    issue(5_000, 5_002); // forgets c4997
    const filed = (k: number, index: number): boolean => {
      const answer = cause({
        kind: "event",
        eventId: `e${index}`,
        name: "commandResult",
        source: "",
        subjects: [`c${k}`],
        outcome: "applied",
        code: "",
        reason: "",
      });
      history.record({ index, timeMs: index, causes: [answer] });
      return history.recent(1)[0]!.resources.includes(`node-${k}`);
    };
    expect([4_996, 4_997, 4_998, 4_999, 5_000].map((k, i) => filed(k, 6_000 + i))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it("the comparison catches a history that moves a command seen again to the end (planted bug)", () => {
    const moveToEnd = (max: number): Model => {
      const m = new Map<string, true>();
      return {
        issue(id) {
          m.delete(id);
          m.set(id, true);
          if (m.size > max) m.delete(m.keys().next().value as string);
        },
        has: (id) => m.has(id),
      };
    };
    expect(() => agrees(moveToEnd)).toThrow();
  });
});
