// Divergence is an alarm: replicas that applied the same entries must have the
// same state. Every replica hashes its state at the same checkpoint indexes
// (state-hashes.ts); the leader proposes its hash at each checkpoint as a
// StateCheck entry, and every replica that applies it compares with its own
// hash there. A mismatch raises the DIVERGED alarm: an error in the log naming
// both replicas and the index, a status alarm, a metric. It stays raised until
// the replica restarts (a diverged replica must be rebuilt: docs/operations.md).
import type { StateCheckSeen } from "../rc/index.js";

export interface Divergence {
  /** The checkpoint index at which the hashes differ. */
  index: number;
  /** This replica's hash there, and the other replica's. */
  mine: string;
  theirs: string;
  /** The replica whose hash differs from this one's (the leader that proposed the check). */
  other: string;
}

export interface DivergenceWatchOptions {
  selfId: string;
  /** This replica's own hash at a checkpoint index, once computed. */
  mine: (index: number) => string | undefined;
  onDiverged: (d: Divergence) => void;
}

/** Checks this replica waits to compare (its own hash there still being computed). */
const WAITING_KEPT = 64;

export class DivergenceWatch {
  private first: Divergence | null = null;
  private count = 0;
  private checked = 0;
  private readonly waiting = new Map<number, StateCheckSeen>();

  constructor(private readonly opts: DivergenceWatchOptions) {}

  /** The first divergence seen, or null. */
  get divergence(): Divergence | null {
    return this.first;
  }

  /** Comparisons made (hashes present on both sides), and how many differed. */
  get stats(): { checked: number; diverged: number } {
    return { checked: this.checked, diverged: this.count };
  }

  /** A StateCheck entry was applied here. */
  seen(check: StateCheckSeen): void {
    if (check.replicaId === this.opts.selfId) return;
    const mine = this.opts.mine(check.index);
    if (mine !== undefined) {
      this.compare(check, mine);
      return;
    }
    this.waiting.set(check.index, check);
    if (this.waiting.size > WAITING_KEPT) this.waiting.delete(Math.min(...this.waiting.keys()));
  }

  /** This replica's own hash at a checkpoint is known: compare a check that came first. */
  checkpoint(index: number, hash: string): void {
    const check = this.waiting.get(index);
    if (check === undefined) return;
    this.waiting.delete(index);
    this.compare(check, hash);
  }

  /** A snapshot was installed: the checks waiting for hashes this replica will never compute are dropped. */
  reset(): void {
    this.waiting.clear();
  }

  private compare(check: StateCheckSeen, mine: string): void {
    this.checked++;
    if (mine === check.hash) return;
    this.count++;
    const d: Divergence = { index: check.index, mine, theirs: check.hash, other: check.replicaId };
    this.first ??= d;
    this.opts.onDiverged(d);
  }
}
