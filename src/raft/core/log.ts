// The replica's log in memory: entries after the compaction point, which of
// them are durable (`stabled`), committed and applied, and the latest snapshot.
// Entries past `stabled` are the unstable tail the driver must persist.
import type { Snapshot } from "../storage.js";
import type { Entry } from "../types.js";
import { entryBytes } from "./messages.js";
import { assert } from "../../util/assert.js";

export class RaftLog {
  /** entries[k] has index compactedIndex + 1 + k. */
  private entries: Entry[];
  private compactedIndex: number;
  private compactedTerm: number;
  committed: number;
  applied: number;
  /** Every entry at or below this index is durable in the log store (or covered by a snapshot). */
  stabled: number;
  /** The latest snapshot, kept to send to lagging followers. */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader that the driver has yet to persist and restore. */
  pendingSnapshot: Snapshot | null = null;

  constructor(init: {
    compactedIndex: number;
    compactedTerm: number;
    entries: Entry[];
    commit: number;
    snapshot: Snapshot | null;
  }) {
    this.compactedIndex = init.compactedIndex;
    this.compactedTerm = init.compactedTerm;
    this.entries = init.entries;
    this.snapshot = init.snapshot;
    const snapIndex = init.snapshot?.meta.index ?? 0;
    if (init.compactedIndex > snapIndex)
      throw new Error(
        `the log store is compacted through ${init.compactedIndex} but the latest snapshot covers only ${snapIndex}: entries would be missing`,
      );
    if (init.snapshot !== null && snapIndex > this.compactedIndex) {
      // The store's log may be stale relative to the snapshot (a crash between
      // saving a received snapshot and compacting): keep the entries only if
      // they continue the snapshot's history.
      const t = this.term(snapIndex);
      if (t === init.snapshot.meta.term) {
        this.dropThrough(snapIndex);
      } else {
        this.entries = [];
        this.compactedIndex = snapIndex;
        this.compactedTerm = init.snapshot.meta.term;
      }
    }
    for (let k = 0; k < this.entries.length; k++) {
      const e = this.entries[k] as Entry;
      if (e.index !== this.compactedIndex + 1 + k)
        throw new Error(
          `log is not contiguous: expected index ${this.compactedIndex + 1 + k}, found ${e.index}`,
        );
    }
    this.stabled = this.lastIndex();
    this.committed = Math.min(Math.max(init.commit, snapIndex, this.compactedIndex), this.lastIndex());
    this.applied = Math.max(snapIndex, 0);
    if (this.applied > this.committed) this.committed = this.applied;
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.compactedIndex + this.entries.length;
  }

  lastTerm(): number {
    const n = this.entries.length;
    return n === 0 ? this.compactedTerm : (this.entries[n - 1] as Entry).term;
  }

  /** The term of the entry at `i`, or undefined when it is compacted away or beyond the end. */
  term(i: number): number | undefined {
    if (i === this.compactedIndex) return this.compactedTerm;
    if (i < this.compactedIndex || i > this.lastIndex()) return undefined;
    return (this.entries[i - this.compactedIndex - 1] as Entry).term;
  }

  entryAt(i: number): Entry | undefined {
    if (i <= this.compactedIndex || i > this.lastIndex()) return undefined;
    return this.entries[i - this.compactedIndex - 1];
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /** Raft's election restriction: is a candidate with this last entry at least as up to date? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** The index of the first entry that conflicts with or extends the log; 0 if all are present. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index at or below `index` whose term is at most `term`, with
   * that term (0 when unknown). Used by both sides of fast backtracking.
   */
  findConflictByTerm(index: number, term: number): [number, number] {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return [i, 0];
      if (t <= term) return [i, t];
      i--;
    }
  }

  /** A follower's append; the new last index, or null when the previous entry does not match. */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    ents: readonly Entry[],
  ): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      assert(
        ci > this.committed,
        () => `entry ${ci} conflicts with the committed log (committed ${this.committed})`,
      );
      this.appendFrom(ents, ci - prevIndex - 1);
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Appends ents[from..], truncating any conflicting suffix first. */
  private appendFrom(ents: readonly Entry[], from: number): void {
    const first = ents[from] as Entry;
    const keep = first.index - this.compactedIndex - 1;
    assert(
      keep >= 0,
      () => `append at ${first.index}, but the log is compacted through ${this.compactedIndex}`,
    );
    if (keep < this.entries.length) {
      this.entries.length = keep;
      if (this.stabled > first.index - 1) this.stabled = first.index - 1;
    }
    for (let k = from; k < ents.length; k++) this.entries.push(ents[k] as Entry);
  }

  /** The leader's own append. */
  appendOne(e: Entry): void {
    assert(e.index === this.lastIndex() + 1, () => `append at ${e.index} after ${this.lastIndex()}`);
    this.entries.push(e);
  }

  /**
   * Entries [lo, hi) within a byte and count budget (always at least one), or
   * null when lo is compacted away.
   */
  slice(lo: number, hi: number, maxBytes: number, maxCount: number): Entry[] | null {
    if (lo <= this.compactedIndex) return null;
    hi = Math.min(hi, this.lastIndex() + 1);
    if (lo >= hi) return [];
    const base = this.compactedIndex + 1;
    let end = lo - base;
    let bytes = 0;
    const limit = Math.min(hi - base, lo - base + maxCount);
    while (end < limit) {
      bytes += entryBytes(this.entries[end] as Entry);
      if (bytes > maxBytes && end > lo - base) break;
      end++;
    }
    return this.entries.slice(lo - base, end);
  }

  commitTo(i: number): void {
    if (i <= this.committed) return;
    assert(i <= this.lastIndex(), () => `commit ${i} is beyond the last index ${this.lastIndex()}`);
    this.committed = i;
  }

  appliedTo(i: number): void {
    assert(i <= this.committed, () => `applied ${i} is beyond the commit index ${this.committed}`);
    if (i > this.applied) this.applied = i;
  }

  /** The driver persisted entries through (i, t). */
  stableTo(i: number, t: number): void {
    if (i > this.stabled && this.term(i) === t) this.stabled = i;
  }

  unstableEntries(): Entry[] {
    if (this.stabled >= this.lastIndex()) return [];
    return this.entries.slice(this.stabled - this.compactedIndex);
  }

  /** Committed, durable and not yet applied. */
  nextCommittedEntries(maxCount: number): Entry[] {
    const hi = Math.min(this.committed, this.stabled);
    const lo = Math.max(this.applied, this.compactedIndex) + 1;
    if (lo > hi || this.pendingSnapshot !== null) return [];
    const base = this.compactedIndex + 1;
    return this.entries.slice(lo - base, Math.min(hi, lo + maxCount - 1) - base + 1);
  }

  hasNextCommittedEntries(): boolean {
    return this.pendingSnapshot === null && Math.min(this.committed, this.stabled) > this.applied;
  }

  /** Replaces the whole log by a snapshot received from the leader. */
  restore(s: Snapshot): void {
    this.entries = [];
    this.compactedIndex = s.meta.index;
    this.compactedTerm = s.meta.term;
    this.committed = s.meta.index;
    // `applied` moves only when the driver has restored the state machine
    // (advance): until then a snapshot of the machine would be older than its index.
    this.stabled = s.meta.index;
    this.snapshot = s;
    this.pendingSnapshot = s;
  }

  /** Drops entries through `index` (which must be applied); the snapshot covers them. */
  compact(index: number): void {
    if (index <= this.compactedIndex) return;
    assert(index <= this.applied, () => `compaction through ${index}, but only ${this.applied} is applied`);
    this.dropThrough(index);
  }

  private dropThrough(index: number): void {
    const t = this.term(index);
    assert(t !== undefined, () => `compaction through ${index}, which is not in the log`);
    this.entries = this.entries.slice(index - this.compactedIndex);
    this.compactedIndex = index;
    this.compactedTerm = t;
  }

  /** For tests and tools: a copy of the entries in memory. */
  allEntries(): Entry[] {
    return this.entries.slice();
  }
}
