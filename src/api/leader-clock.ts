// The clock a leader stamps log entries with. Log time is the coordinator's
// only time (timers, the dedup retention), so it must not run faster than the
// leader's own clock: the stamps follow the monotonic clock from the wall time
// read once at start. A wall-clock step (an NTP correction, an operator's
// `date -s`) moves neither the stamps nor log time; the state machine also
// bounds each entry's step (RcConfig.maxTimeStepMs) whatever a leader stamps.
import { performance } from "node:perf_hooks";

export class LeaderClock {
  private readonly wallAtStart: number;
  private readonly monoAtStart: number;

  constructor(
    wallNow: () => number = Date.now,
    private readonly monoNow: () => number = () => performance.now(),
  ) {
    this.wallAtStart = wallNow();
    this.monoAtStart = monoNow();
  }

  /** Milliseconds since 1970 as of start, advanced by the monotonic clock since. */
  now(): number {
    return Math.floor(this.wallAtStart + (this.monoNow() - this.monoAtStart));
  }
}
