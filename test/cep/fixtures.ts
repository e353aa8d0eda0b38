import { rulesFor } from "../../src/cep/index.js";

/** Events and commands of a small recovery domain, shared by the tests. */
export type Ev =
  | { kind: "heartbeat"; node: string }
  | { kind: "process-failed"; node: string; process: string }
  | { kind: "process-up"; node: string; process: string };

export type Out =
  | { command: "respawn-node"; node: string; attempt: number }
  | { command: "mark-down"; node: string }
  | { command: "restart"; node: string; process: string };

export const heartbeat = (node: string): Ev => ({ kind: "heartbeat", node });

export const { rule, flow } = rulesFor<Ev, Out>();

/**
 * A node is silent after 5000 without a heartbeat: respawn it up to 3 times, 2000 apart, then
 * mark it down. A heartbeat at any point brings it back online.
 */
export const nodeSilent = rule({
  name: "node-silent",
  key: (e) => (e.kind === "heartbeat" ? e.node : undefined),
  local: () => ({ attempts: 0 }),
  initial: "online",
  phases: {
    online: {
      on: [{ name: "heartbeat", when: (e) => e.kind === "heartbeat", goto: "online" }],
      timeout: {
        after: 5000,
        goto: "transient",
        then: (ctx) => {
          ctx.local = { attempts: 1 };
          ctx.emit({ command: "respawn-node", node: ctx.key, attempt: 1 });
        },
      },
    },
    transient: {
      on: [
        {
          name: "back",
          when: (e) => e.kind === "heartbeat",
          goto: "online",
          then: (ctx) => {
            ctx.local = { attempts: 0 };
          },
        },
      ],
      timeout: {
        after: 2000,
        goto: ["transient", "down"],
        then: (ctx) => {
          if (ctx.local.attempts < 3) {
            const attempt = ctx.local.attempts + 1;
            ctx.local = { attempts: attempt };
            ctx.emit({ command: "respawn-node", node: ctx.key, attempt });
            ctx.goto("transient");
          } else {
            ctx.emit({ command: "mark-down", node: ctx.key });
            ctx.goto("down");
          }
        },
      },
    },
    down: { final: true },
  },
});
