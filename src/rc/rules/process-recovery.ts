// Process failed (DESIGN.md, "Recovery rules"): the node service restarts a
// process locally within its own budget and only reports it; when it gives up
// (ProcessFailed), this rule respawns the process with backoff up to a budget,
// then gives up (the process is failed and its services down). While the
// process's node is away the rule keeps retrying at the longest backoff
// without spending the budget, and respawns at once when the node returns.
import { defineRule, type Rule, type RuleContext } from "../../cep/index.js";
import { backoffDelay, type RcConfig } from "../config.js";
import type { Intent, RuleEvent } from "./types.js";

type Phase = "idle" | "respawning" | "backoff" | "waiting-node" | "ended";

interface Local {
  /** Respawns counted against the budget. */
  attempts: number;
}

type Ctx = RuleContext<Intent, Local, undefined, Phase>;

function processKey(e: RuleEvent): string | undefined {
  switch (e.t) {
    case "process-failed":
    case "process-started":
    case "respawn-failed":
    case "process-node-down":
    case "process-node-up":
    case "process-stopped":
      return e.processId;
    default:
      return undefined;
  }
}

const is =
  (...types: RuleEvent["t"][]) =>
  (e: RuleEvent): boolean =>
    types.includes(e.t);

export function processRecoveryRule(config: RcConfig): Rule<RuleEvent, Intent> {
  const budget = config.processRespawnBudget;
  const respawn = (ctx: { key: string; local: Local; emit(i: Intent): void }, counted: boolean): void => {
    if (counted) ctx.local = { attempts: ctx.local.attempts + 1 };
    ctx.emit({ do: "respawn-process", processId: ctx.key, attempt: ctx.local.attempts, counted });
  };
  const failedAttempt = (ctx: {
    key: string;
    local: Local;
    emit(i: Intent): void;
    goto(p: Phase): void;
  }): void => {
    if (ctx.local.attempts >= budget) {
      ctx.emit({ do: "process-given-up", processId: ctx.key });
      ctx.goto("ended");
    } else ctx.goto("backoff");
  };

  return defineRule<RuleEvent, Intent, Local, undefined, Phase>({
    name: "process-recovery",
    key: processKey,
    initial: "idle",
    local: () => ({ attempts: 0 }),
    phases: {
      idle: {
        on: [
          {
            name: "failed-node-up",
            when: (e) => e.t === "process-failed" && e.nodeUp,
            goto: "respawning",
            then: (ctx: Ctx) => respawn(ctx, true),
          },
          { name: "failed-node-away", when: is("process-failed"), goto: "waiting-node" },
        ],
      },
      respawning: {
        on: [
          { name: "started", when: is("process-started", "process-stopped"), goto: "ended" },
          { name: "node-away", when: is("process-node-down"), goto: "waiting-node" },
          {
            name: "attempt-failed",
            when: is("process-failed", "respawn-failed"),
            goto: ["backoff", "ended"],
            then: failedAttempt,
          },
        ],
        // No answer at all counts as a failed attempt.
        timeout: { after: config.processRespawnTimeoutMs, goto: ["backoff", "ended"], then: failedAttempt },
      },
      backoff: {
        on: [
          { name: "started", when: is("process-started", "process-stopped"), goto: "ended" },
          { name: "node-away", when: is("process-node-down"), goto: "waiting-node" },
        ],
        timeout: {
          after: (ctx: Ctx) => backoffDelay(config.processRespawnBackoff, ctx.local.attempts),
          goto: "respawning",
          then: (ctx: Ctx) => respawn(ctx, true),
        },
      },
      "waiting-node": {
        on: [
          { name: "started", when: is("process-started", "process-stopped"), goto: "ended" },
          {
            name: "node-back",
            when: is("process-node-up"),
            goto: ["respawning", "ended"],
            then: (ctx: Ctx) => {
              if (ctx.local.attempts >= budget) {
                ctx.emit({ do: "process-given-up", processId: ctx.key });
                ctx.goto("ended");
              } else {
                respawn(ctx, true);
                ctx.goto("respawning");
              }
            },
          },
        ],
        // Keep trying: a node that is only unreachable from the leader may still act on it.
        timeout: {
          after: config.processRespawnBackoff.maxMs,
          goto: "waiting-node",
          then: (ctx: Ctx) => respawn(ctx, false),
        },
      },
      ended: { final: true },
    },
  });
}
