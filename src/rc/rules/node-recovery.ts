// Node silent (DESIGN.md, "Recovery rules"): the node becomes transient and a
// respawn-node command goes to its host's infrastructure endpoint, retried
// with backoff; when the budget is spent the node is down. A heartbeat or a
// join, before or after that, ends the recovery (the coordinator brings the
// node back online). A drained node is not recovered.
import { defineRule, type Rule, type RuleContext } from "../../cep/index.js";
import { backoffDelay, type RcConfig } from "../config.js";
import type { Intent, RuleEvent } from "./types.js";

type Phase = "idle" | "respawning" | "down" | "ended";

interface Local {
  attempts: number;
}

type Ctx = RuleContext<Intent, Local, undefined, Phase>;

function nodeKey(e: RuleEvent): string | undefined {
  return e.t === "node-silent" || e.t === "node-up" || e.t === "node-drained" ? e.nodeId : undefined;
}

export function nodeRecoveryRule(config: RcConfig): Rule<RuleEvent, Intent> {
  return defineRule<RuleEvent, Intent, Local, undefined, Phase>({
    name: "node-recovery",
    key: nodeKey,
    initial: "idle",
    local: () => ({ attempts: 0 }),
    phases: {
      idle: {
        on: [
          {
            name: "silent",
            when: (e) => e.t === "node-silent",
            goto: "respawning",
            then: (ctx: Ctx) => {
              ctx.local = { attempts: 1 };
              ctx.emit({ do: "node-transient", nodeId: ctx.key });
              ctx.emit({ do: "respawn-node", nodeId: ctx.key, attempt: 1 });
            },
          },
        ],
      },
      respawning: {
        on: [{ name: "back", when: (e) => e.t === "node-up" || e.t === "node-drained", goto: "ended" }],
        timeout: {
          after: (ctx: Ctx) => backoffDelay(config.nodeRespawnBackoff, ctx.local.attempts),
          goto: ["respawning", "down"],
          then: (ctx: Ctx) => {
            if (ctx.local.attempts >= config.nodeRespawnBudget) {
              ctx.emit({ do: "node-down", nodeId: ctx.key });
              ctx.goto("down");
              return;
            }
            const attempt = ctx.local.attempts + 1;
            ctx.local = { attempts: attempt };
            ctx.emit({ do: "respawn-node", nodeId: ctx.key, attempt });
            ctx.goto("respawning");
          },
        },
      },
      down: {
        on: [{ name: "back", when: (e) => e.t === "node-up" || e.t === "node-drained", goto: "ended" }],
      },
      ended: { final: true },
    },
  });
}
