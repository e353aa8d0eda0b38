// The node service's own diagnosis, as CEP rules (src/cep): pure functions of
// the events it sees and the time they carry, so they are tested without a
// clock and their state is one plain-JSON snapshot (local-diagnosis.ts keeps it
// on disk). Two rules:
// - crash-loop, per process: a run that exits is restarted with backoff
//   (baseDelayMs doubling up to maxDelayMs) while fewer than `budget` restarts
//   happened within `windowMs`; beyond, the node escalates to the coordinator
//   (ProcessFailed) and stays hands-off until a run is started again by a
//   command (the coordinator's respawn), which starts a fresh budget;
// - disk-health, per disk: `errors` failed probes within `withinMs` mark the
//   disk failed locally (DiskFailed); a failed disk that the probe reports
//   replaced or repaired is healthy again (DiskReplaced).
import { rulesFor } from "../cep/index.js";
import { backoffDelay } from "../util/backoff.js";

export interface RestartPolicyConfig {
  /** Local restarts allowed within `windowMs`; 0 hands every exit to the coordinator. */
  budget: number;
  windowMs: number;
  /** Delay before the first restart; doubles with each recent restart, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyConfig = {
  budget: 3,
  windowMs: 60_000,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

export interface DiskRuleConfig {
  /** Failed probes within `withinMs` that mark the disk failed. */
  errors: number;
  withinMs: number;
}

export type LocalEvent =
  | { kind: "process-exit"; process: string; reason: string }
  /** A run started by the coordinator's command (not a local restart). */
  | { kind: "process-commanded"; process: string }
  | { kind: "disk-probe"; disk: string; result: "ok" | "error" | "replaced"; detail: string; serial: string };

export type LocalAction =
  | { action: "restart"; process: string; delayMs: number; recent: number; reason: string }
  | { action: "escalate"; process: string; recent: number; reason: string }
  | { action: "disk-failed"; disk: string; errors: number; detail: string }
  | { action: "disk-replaced"; disk: string; serial: string };

const { rule } = rulesFor<LocalEvent, LocalAction>();

export function crashLoopRule(policy: RestartPolicyConfig) {
  return rule({
    name: "crash-loop",
    key: (e) => (e.kind === "process-exit" || e.kind === "process-commanded" ? e.process : undefined),
    local: () => ({ restarts: [] as number[] }),
    initial: "watching",
    phases: {
      watching: {
        on: [
          {
            name: "exit",
            when: (e) => e.kind === "process-exit",
            goto: ["watching", "escalated"],
            then: (ctx, e) => {
              const reason = e.kind === "process-exit" ? e.reason : "";
              const recent = ctx.local.restarts.filter((t) => ctx.time - t < policy.windowMs);
              if (recent.length >= policy.budget) {
                ctx.local = { restarts: recent };
                ctx.emit({ action: "escalate", process: ctx.key, recent: recent.length, reason });
                ctx.goto("escalated");
                return;
              }
              const delayMs = backoffDelay(
                { baseMs: policy.baseDelayMs, factor: 2, maxMs: policy.maxDelayMs },
                recent.length + 1,
              );
              ctx.local = { restarts: [...recent, ctx.time] };
              ctx.emit({ action: "restart", process: ctx.key, delayMs, recent: recent.length, reason });
            },
          },
        ],
      },
      escalated: {
        on: [
          {
            name: "respawned",
            when: (e) => e.kind === "process-commanded",
            goto: "watching",
            then: (ctx) => void (ctx.local = { restarts: [] }),
          },
        ],
      },
    },
  });
}

export function diskHealthRule(cfg: DiskRuleConfig) {
  return rule({
    name: "disk-health",
    key: (e) => (e.kind === "disk-probe" ? e.disk : undefined),
    local: () => ({ errors: [] as number[] }),
    initial: "healthy",
    phases: {
      healthy: {
        on: [
          {
            name: "error",
            when: (e) => e.kind === "disk-probe" && e.result === "error",
            goto: ["healthy", "failed"],
            then: (ctx, e) => {
              const errors = [...ctx.local.errors.filter((t) => ctx.time - t < cfg.withinMs), ctx.time];
              if (errors.length >= cfg.errors) {
                ctx.local = { errors: [] };
                const detail = e.kind === "disk-probe" ? e.detail : "";
                ctx.emit({ action: "disk-failed", disk: ctx.key, errors: errors.length, detail });
                ctx.goto("failed");
              } else ctx.local = { errors };
            },
          },
        ],
      },
      failed: {
        on: [
          {
            name: "replaced",
            when: (e) => e.kind === "disk-probe" && e.result === "replaced",
            goto: "healthy",
            then: (ctx, e) =>
              ctx.emit({
                action: "disk-replaced",
                disk: ctx.key,
                serial: e.kind === "disk-probe" ? e.serial : "",
              }),
          },
        ],
      },
    },
  });
}
