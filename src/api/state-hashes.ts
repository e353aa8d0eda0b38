// The state hashes a replica knows, computed off the hot path: the reads
// (GetStatus, GetGraph, the dashboard) show the newest one with the index it is
// of, and never compute one. A hash is computed (a capture encoded slice by
// slice, see src/rc/state-capture.ts):
// - in the background after entries were applied, at most once per interval,
//   so that a quiet replica's hash soon shows its applied index;
// - at every checkpoint index (a multiple of `checkEvery`), the same indexes on
//   every replica, so that replicas can compare (see divergence.ts);
// - whenever the Raft driver persists a snapshot (the same capture serves both).
import type { CapturedState, RcStateMachine, StateCapture } from "../rc/index.js";

export interface KnownHash {
  index: number;
  hash: string;
}

export interface StateHashesOptions {
  /** Hash at every index that is a multiple of this (0: never). */
  checkEvery: number;
  /**
   * At least this long between the starts of two background refreshes; longer
   * for a large state (twenty times the synchronous part of the last capture,
   * ten times its whole encoding), so that hashing for the status takes at most
   * a tenth of the time (at 10,000 hosts a hash is about 0.5 s of work).
   */
  refreshIntervalMs: number;
  /** Told of each checkpoint hash once computed. */
  onCheckpoint?: (h: KnownHash) => void;
  onError: (err: unknown) => void;
}

/** Checkpoint hashes kept for comparison. */
const CHECKPOINTS_KEPT = 64;

export class StateHashes {
  private latest: KnownHash | null = null;
  private readonly checkpoints = new Map<number, string>();
  private refreshing = false;
  private lastRefreshStart = -Infinity;
  /** How long the last refresh took: its capture (on the event loop) and the whole of it. */
  private lastCaptureMs = 0;
  private lastRefreshMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly machine: RcStateMachine,
    private readonly opts: StateHashesOptions,
  ) {}

  /** The newest hash known, without computing one; null before the first. */
  known(): KnownHash | null {
    this.refreshSoon();
    return this.latest;
  }

  /** This replica's hash at a checkpoint index, if it computed one there. */
  checkpoint(index: number): string | undefined {
    return this.checkpoints.get(index);
  }

  /** After each applied entry: a checkpoint capture when the index is one, and a refresh later. */
  applied(index: number): void {
    const every = this.opts.checkEvery;
    if (every > 0 && index % every === 0) {
      void this.track(this.machine.capture(), true);
      return;
    }
    this.refreshSoon();
  }

  /**
   * A capture for a snapshot: the Raft driver persists it, and its hash is
   * noted here too (the snapshot and the hash come from the same encoding).
   */
  captureForSnapshot(): StateCapture {
    const capture = this.machine.capture();
    void this.track(capture, false);
    return capture;
  }

  /** Forgets what was computed (a snapshot was installed: the state jumped). */
  reset(): void {
    this.latest = null;
    this.checkpoints.clear();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async track(capture: StateCapture, checkpoint: boolean): Promise<void> {
    let result: CapturedState;
    try {
      result = await capture.encoded();
    } catch (err) {
      this.opts.onError(err);
      return;
    }
    this.note({ index: capture.index, hash: result.hash });
    if (checkpoint) {
      this.checkpoints.set(capture.index, result.hash);
      if (this.checkpoints.size > CHECKPOINTS_KEPT) {
        const oldest = Math.min(...this.checkpoints.keys());
        this.checkpoints.delete(oldest);
      }
      this.opts.onCheckpoint?.({ index: capture.index, hash: result.hash });
    }
  }

  private note(h: KnownHash): void {
    if (this.latest === null || h.index >= this.latest.index) this.latest = h;
  }

  /** Starts a background refresh when the known hash is behind, no sooner than the interval allows. */
  private refreshSoon(): void {
    if (this.stopped || this.refreshing || this.timer !== null) return;
    if (this.latest !== null && this.latest.index >= this.machine.lastApplied) return;
    const interval = Math.max(this.opts.refreshIntervalMs, 20 * this.lastCaptureMs, 10 * this.lastRefreshMs);
    const wait = Math.max(0, this.lastRefreshStart + interval - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.stopped || (this.latest !== null && this.latest.index >= this.machine.lastApplied)) return;
      this.refreshing = true;
      const start = performance.now();
      this.lastRefreshStart = start;
      const capture = this.machine.capture();
      this.lastCaptureMs = performance.now() - start;
      void this.track(capture, false).finally(() => {
        this.lastRefreshMs = performance.now() - start;
        this.refreshing = false;
        this.refreshSoon();
      });
    }, wait);
    this.timer.unref();
  }
}
