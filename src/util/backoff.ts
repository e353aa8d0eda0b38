// The one backoff of the code base: a delay that grows by `factor` with each
// retry, up to `maxMs`. The coordinator's respawn plans use the pure function
// (the delay is part of the replicated state, so no jitter); the node's local
// restarts, the Raft transport's reconnects and the leader's command delivery
// count their own attempts, and the transport adds jitter.

export interface BackoffPolicy {
  /** Delay before the first retry. */
  baseMs: number;
  /** Growth per retry (2: doubling). */
  factor: number;
  /** The longest delay. */
  maxMs: number;
}

/** The delay before retry number `attempt` (1 is the first retry): baseMs × factor^(attempt−1), at most maxMs. */
export function backoffDelay(p: BackoffPolicy, attempt: number): number {
  let d = p.baseMs;
  for (let i = 1; i < attempt && d < p.maxMs; i++) d *= p.factor;
  return Math.min(Math.round(d), p.maxMs);
}

/**
 * Counts its own attempts. With `random`, each delay is jittered within its
 * upper half, so that parties that failed at the same moment do not retry in step.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly random: (() => number) | null = null,
  ) {}

  /** The delay before the next attempt. */
  next(): number {
    // Bounded, so that a long outage does not loop in backoffDelay.
    this.attempt = Math.min(this.attempt + 1, 64);
    const d = backoffDelay(this.policy, this.attempt);
    return this.random === null ? d : Math.round(d / 2 + (this.random() * d) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
