// A LogStore in memory that models a disk: a write is pending until its sync
// completes, and crash() loses every pending write. The simulator decides
// when syncs complete, so it can crash a replica between write and sync.
import { StorageCorruptionError, type LogStore, type PersistedLog } from "../storage.js";
import type { Entry, HardState } from "../types.js";

/** Runs `done` when the write is durable; the default is at once (next microtask). */
export type SyncScheduler = (done: () => void) => void;

type Op =
  | { kind: "persist"; hardState?: HardState; entries?: Entry[] }
  | { kind: "reset"; index: number; term: number }
  | { kind: "identity"; id: string };

export class MemoryLogStore implements LogStore {
  private hardState: HardState | null = null;
  private identity: string | null = null;
  /** Set by corrupt(): load() refuses, as the LevelDB store does on a bad record. */
  private corruption: string | null = null;
  private entries: Entry[] = [];
  private compactedIndex = 0;
  private compactedTerm = 0;
  private pending: { seq: number; op: Op; resolve: () => void; reject: (e: Error) => void }[] = [];
  private seq = 0;
  private closed = false;
  /** Called with every write as it becomes durable (the simulator checks logs here). */
  onDurable: ((entries: readonly Entry[], store: MemoryLogStore) => void) | null = null;

  constructor(private readonly scheduler: SyncScheduler = (done) => queueMicrotask(done)) {}

  async load(): Promise<PersistedLog> {
    if (this.corruption !== null) throw new StorageCorruptionError("memory log", null, this.corruption);
    return {
      hardState: this.hardState === null ? null : { ...this.hardState },
      entries: this.entries.slice(),
      compactedIndex: this.compactedIndex,
      compactedTerm: this.compactedTerm,
    };
  }

  persist(update: { hardState?: HardState; entries?: Entry[] }): Promise<void> {
    return this.enqueue({ kind: "persist", hardState: update.hardState, entries: update.entries });
  }

  resetTo(index: number, term: number): Promise<void> {
    return this.enqueue({ kind: "reset", index, term });
  }

  async readIdentity(): Promise<string | null> {
    return this.identity;
  }

  writeIdentity(id: string): Promise<void> {
    return this.enqueue({ kind: "identity", id });
  }

  async compact(index: number, term: number): Promise<void> {
    // Compaction only forgets what a snapshot covers, so it may take effect at once.
    if (index <= this.compactedIndex) return;
    const drop = Math.min(index - this.compactedIndex, this.entries.length);
    this.entries = this.entries.slice(drop);
    this.compactedIndex = index;
    this.compactedTerm = term;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Loses every write not yet synced (returns how many); their promises never settle (the process is gone). */
  crash(): number {
    const lost = this.pending.length;
    this.pending = [];
    return lost;
  }

  /** The identity kept on this disk (null when none was written): for the simulator's checks. */
  get durableIdentity(): string | null {
    return this.identity;
  }

  /** The disk is lost (or the data directory rebuilt): nothing survives, the identity included. */
  wipe(): void {
    this.pending = [];
    this.hardState = null;
    this.identity = null;
    this.entries = [];
    this.compactedIndex = 0;
    this.compactedTerm = 0;
    this.corruption = null;
    this.closed = false;
  }

  /** A record went bad on disk: load() refuses until wipe(). */
  corrupt(detail: string): void {
    this.corruption = detail;
  }

  /** Drops the newest `n` durable entries, as a disk that lost its tail despite fsync would. */
  loseTail(n: number): void {
    this.entries.length = Math.max(0, this.entries.length - n);
  }

  /** The durable state, for invariant checks. */
  durableEntries(): readonly Entry[] {
    return this.entries;
  }

  durableHardState(): HardState | null {
    return this.hardState;
  }

  get firstIndex(): number {
    return this.compactedIndex + 1;
  }

  termAt(index: number): number | undefined {
    if (index === this.compactedIndex) return this.compactedTerm;
    return this.entries[index - this.compactedIndex - 1]?.term;
  }

  private enqueue(op: Op): Promise<void> {
    if (this.closed) return Promise.reject(new Error("log store is closed"));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.push({ seq, op, resolve, reject });
      this.scheduler(() => this.syncThrough(seq));
    });
  }

  /** Writes reach the disk in order: syncing one makes every earlier one durable too. */
  private syncThrough(seq: number): void {
    while (this.pending.length > 0 && (this.pending[0] as { seq: number }).seq <= seq) {
      const w = this.pending.shift() as (typeof this.pending)[number];
      try {
        this.applyOp(w.op);
        w.resolve();
      } catch (e) {
        w.reject(e as Error);
      }
    }
  }

  private applyOp(op: Op): void {
    if (op.kind === "identity") {
      this.identity = op.id;
      return;
    }
    if (op.kind === "reset") {
      this.entries = [];
      this.compactedIndex = op.index;
      this.compactedTerm = op.term;
      return;
    }
    if (op.hardState !== undefined) this.hardState = { ...op.hardState };
    const ents = op.entries;
    if (ents !== undefined && ents.length > 0) {
      const first = (ents[0] as Entry).index;
      if (first <= this.compactedIndex)
        throw new Error(`write at ${first} below the compaction point ${this.compactedIndex}`);
      const keep = first - this.compactedIndex - 1;
      if (keep > this.entries.length)
        throw new Error(`write at ${first} leaves a gap after ${this.compactedIndex + this.entries.length}`);
      this.entries.length = keep;
      for (const e of ents) this.entries.push(e);
      this.onDurable?.(ents, this);
    }
  }
}
