// The node's own rule for a process that exits: restart it locally, with
// backoff, while few restarts happened recently; beyond that budget, give up
// and let the coordinator decide (ProcessFailed). Pure bookkeeping on times
// the caller passes in, so it is tested without a clock.
import { backoffDelay } from "../util/backoff.js";

export interface RestartPolicyConfig {
  /** Local restarts allowed within `windowMs`; 0 reports every exit to the coordinator. */
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

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; recent: number };

export class RestartPolicy {
  /** When each recent local restart was decided, oldest first. */
  private restarts: number[] = [];

  constructor(private readonly config: RestartPolicyConfig) {}

  /** A run exited at `now`: restart it (after delayMs) or give up. */
  onExit(now: number): RestartDecision {
    this.restarts = this.restarts.filter((t) => now - t < this.config.windowMs);
    const recent = this.restarts.length;
    if (recent >= this.config.budget) return { restart: false, recent };
    this.restarts.push(now);
    const delayMs = backoffDelay(
      { baseMs: this.config.baseDelayMs, factor: 2, maxMs: this.config.maxDelayMs },
      recent + 1,
    );
    return { restart: true, delayMs };
  }
}
