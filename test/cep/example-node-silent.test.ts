// The worked example of the README's CEP section, verbatim: a rule that detects a silent node
// and asks for a respawn, and its test.
import { describe, it } from "vitest";
import { Engine, rulesFor, scenario } from "../../src/cep/index.js";

type Event = { kind: "heartbeat"; node: string };
type Command =
  { command: "respawn-node"; node: string; attempt: number } | { command: "mark-down"; node: string };

const { rule } = rulesFor<Event, Command>();

const nodeSilent = rule({
  name: "node-silent",
  key: (e) => e.node, // one instance per node
  local: () => ({ attempts: 0 }),
  initial: "online",
  phases: {
    online: {
      // Every heartbeat re-enters "online", which restarts its timeout.
      on: [{ name: "heartbeat", when: (e) => e.kind === "heartbeat", goto: "online" }],
      timeout: {
        after: 5_000,
        goto: "respawning",
        then: (ctx) => {
          ctx.local = { attempts: 1 };
          ctx.emit({ command: "respawn-node", node: ctx.key, attempt: 1 });
        },
      },
    },
    respawning: {
      on: [{ name: "back", when: (e) => e.kind === "heartbeat", goto: "online" }],
      timeout: {
        after: 2_000,
        goto: ["respawning", "down"],
        then: (ctx) => {
          if (ctx.local.attempts >= 3) {
            ctx.emit({ command: "mark-down", node: ctx.key });
            return ctx.goto("down");
          }
          ctx.local = { attempts: ctx.local.attempts + 1 };
          ctx.emit({ command: "respawn-node", node: ctx.key, attempt: ctx.local.attempts });
          ctx.goto("respawning");
        },
      },
    },
    down: { final: true },
  },
});

describe("node-silent", () => {
  const engine = new Engine<Event, Command>({ rules: [nodeSilent] });
  const beat = (node: string): Event => ({ kind: "heartbeat", node });

  it("respawns a node silent for 5 s, three times 2 s apart, then marks it down", () => {
    scenario(engine)
      .at(0, beat("n1"))
      .at(4_999)
      .expectNothing()
      .at(5_000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 1 })
      .at(7_000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 2 })
      .at(9_000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 3 })
      .at(11_000)
      .expectEmitted({ command: "mark-down", node: "n1" })
      .expectPhase("node-silent", "n1", undefined);
  });

  it("forgets the attempts when the node comes back", () => {
    scenario(engine)
      .at(0, beat("n1"))
      .at(5_000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 1 })
      .at(6_000, beat("n1"))
      .expectPhase("node-silent", "n1", "online")
      .at(11_000)
      .expectEmitted({ command: "respawn-node", node: "n1", attempt: 1 });
  });
});
