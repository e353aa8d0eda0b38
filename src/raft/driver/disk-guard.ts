// What a node does when its disk fills up. A write the node must not go on
// without (the log, a received snapshot) that fails for lack of space freezes
// the node, and the write is repeated at every probe, after reopening the log
// store, until it succeeds or the node stops. Writes are idempotent, so a
// repeat after a half-finished one is harmless.
import { isNoSpaceError } from "../storage.js";

/** How often a node whose disk is full tries its failed write again. */
export const DISK_PROBE_MS = 1_000;

export interface DiskFullState {
  /** When the first write failed (the node's clock). */
  since: number;
  error: string;
}

export interface DiskGuardHost {
  /** The node's tick count and clock. */
  ticks(): number;
  now(): number;
  stopped(): boolean;
  heartbeatIntervalMs: number;
  /** Reopens the log store after a failed write (a no-op for a store that cannot). */
  reopen(): Promise<void>;
  /** A write just failed for lack of space: stop acknowledging, voting and applying. */
  frozen(error: Error): void;
  /** The failed write went through after `fullForMs`. */
  thawed(fullForMs: number): void;
}

export class DiskGuard {
  private full: DiskFullState | null = null;
  /** Resolves the wait of a write that failed for lack of space, at the next probe. */
  private probe: { atTick: number; resolve: () => void } | null = null;

  constructor(private readonly host: DiskGuardHost) {}

  /** Set while a write failed for lack of space. */
  get state(): DiskFullState | null {
    return this.full && { ...this.full };
  }

  get isFull(): boolean {
    return this.full !== null;
  }

  /** Ticks between two tries of a failed write. */
  get probeTicks(): number {
    return Math.max(1, Math.ceil(DISK_PROBE_MS / this.host.heartbeatIntervalMs));
  }

  /** Runs `write`; on a full disk, freezes the node and repeats the write at every probe. */
  async durably(write: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await write();
        if (this.full !== null) this.thaw();
        return;
      } catch (e) {
        if (!isNoSpaceError(e) || this.host.stopped()) throw e;
        if (this.full === null) {
          this.full = { since: this.host.now(), error: (e as Error).message };
          this.host.frozen(e as Error);
        }
      }
      await new Promise<void>((resolve) => {
        this.probe = { atTick: this.host.ticks() + this.probeTicks, resolve };
      });
      if (this.host.stopped()) return;
      try {
        await this.host.reopen();
      } catch (e) {
        if (!isNoSpaceError(e)) throw e;
      }
    }
  }

  /** At every tick while frozen: starts the next try when its time has come. */
  tick(): void {
    if (this.probe !== null && this.host.ticks() >= this.probe.atTick) this.release();
  }

  /** Lets a waiting write go on (at a probe, or at stop, when it gives up). */
  release(): void {
    const probe = this.probe;
    this.probe = null;
    probe?.resolve();
  }

  private thaw(): void {
    const since = this.full?.since ?? this.host.now();
    this.full = null;
    this.host.thawed(this.host.now() - since);
  }
}
