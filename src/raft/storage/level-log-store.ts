// The Raft log and hard state in LevelDB (classic-level).
//
// Every persist() is one chained batch written with sync: true, so a group of
// proposals costs one fsync (TOOLING.md: the chained form is about 3x cheaper
// than the array form). Writes are serialised here because two batches handed
// to LevelDB's thread pool at once may land in either order.
//
// Integrity: at load, the log must reach the durable mark (durable-mark.ts) and
// LevelDB must not report having skipped anything while recovering its
// write-ahead log (leveldb-info-log.ts); otherwise load() throws a
// StorageCorruptionError naming the missing range.
//
// A failed write (a full disk) leaves the store refusing every write with that
// error until reopen() succeeds: LevelDB keeps a failed sync as a permanent
// background error, and a half-written record followed by good ones would read
// as corruption at the next start.
import { ClassicLevel } from "classic-level";
import { StorageCorruptionError, type LogStore, type PersistedLog } from "../storage.js";
import type { Entry, HardState } from "../types.js";
import { DurableMark, type MarkValue } from "./durable-mark.js";
import { droppedAtOpen } from "./leveldb-info-log.js";
import { damagedTables } from "./leveldb-tables.js";
import {
  COMPACTION_KEY,
  ENTRY_KEY_END,
  ENTRY_KEY_MIN,
  HARD_STATE_KEY,
  IDENTITY_KEY,
  RecordError,
  decodeCompaction,
  decodeEntry,
  decodeHardState,
  decodeIdentity,
  encodeCompaction,
  encodeEntry,
  encodeHardState,
  encodeIdentity,
  entryKey,
  indexOfEntryKey,
} from "./log-records.js";

export interface LevelLogStoreOptions {
  /** The LevelDB directory; created if missing. */
  dir: string;
  /**
   * Drop an unreadable tail of the log instead of refusing to start. Only an
   * operator should set this: a dropped entry may have been acknowledged.
   */
  truncateCorruptTail?: boolean;
  /** Whether persist() fsyncs. Always true in production; false only for tests that measure nothing. */
  sync?: boolean;
  /** Told about anything repaired or dropped at load. */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
  /** How long a raise of the durable mark may wait (ms); default 100. */
  markIntervalMs?: number;
}

type Db = ClassicLevel<Buffer, Buffer>;

export class LevelLogStore implements LogStore {
  /**
   * Made by load(), after the tables are verified: ClassicLevel opens the
   * database by itself as soon as it is constructed (abstract-level's deferred
   * open), and an open may compact and delete the very table files being
   * verified (ENOENT at the restart of a SIGKILLed replica).
   */
  private db!: Db;
  private readonly sync: boolean;
  private loaded = false;
  /** Index of the first entry kept (compactedIndex + 1). */
  private firstIndex = 1;
  private lastIndex = 0;
  private compactedIndex = 0;
  private compactedTerm = 0;
  /** Term and vote of the last hard state handed in, to tell a commit-only one apart. */
  private latestTerm = -1;
  private latestVote: string | null = null;
  /** The tail of the write queue: each write starts after the previous one ended. */
  private queue: Promise<unknown> = Promise.resolve();
  private mark: DurableMark | null = null;
  /** The highest term written with a synced write. */
  private durableTerm = 0;
  /** Set by a failed write; every write is refused with it until reopen(). */
  private failure: Error | null = null;

  constructor(private readonly options: LevelLogStoreOptions) {
    this.sync = options.sync ?? true;
  }

  get directory(): string {
    return this.options.dir;
  }

  async load(): Promise<PersistedLog> {
    // Before LevelDB reads them: a damaged table can abort the process inside LevelDB.
    const damaged = await damagedTables(this.options.dir);
    if (damaged.length > 0)
      throw this.corruption(null, `LevelDB table damaged: ${damaged.join(" | ")}; refusing to start`);
    this.db = new ClassicLevel<Buffer, Buffer>(this.options.dir, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    try {
      await this.db.open();
    } catch (err) {
      throw this.wrapLevelError(err, null);
    }
    try {
      const dropped = await droppedAtOpen(this.options.dir);
      const opened = await DurableMark.open(this.options.dir, {
        intervalMs: this.options.markIntervalMs,
        onWarning: this.options.onWarning,
      });
      this.mark = opened.mark;
      const persisted = await this.readAll();
      await this.checkAgainstMark(opened.stored, dropped, persisted.hardState);
      return persisted;
    } catch (err) {
      // Release LevelDB's lock, so that the operator (or a test) can reopen with other options.
      await this.mark?.close().catch(() => undefined);
      this.mark = null;
      await this.db.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * After a failed write (a full disk): closes and reopens LevelDB, which clears
   * its sticky error and starts a new write-ahead log. Throws while that is not
   * possible yet (opening writes a table of the recovered log, so it needs space).
   * The driver then repeats the write that failed; writes are idempotent.
   */
  async reopen(): Promise<void> {
    await this.queue.catch(() => undefined);
    if (this.failure === null) return;
    if (this.db.status === "open") await this.db.close();
    await this.db.open();
    this.failure = null;
    // The failed write may or may not have reached the disk: sync the next hard state whatever it is.
    this.latestTerm = -1;
    this.latestVote = null;
  }

  private async readAll(): Promise<PersistedLog> {
    const hardState = await this.readHardState();
    await this.readCompaction();
    const entries = await this.readEntries();
    this.lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : this.compactedIndex;
    this.loaded = true;
    if (hardState) {
      this.latestTerm = hardState.term;
      this.latestVote = hardState.vote;
    }
    return {
      hardState: hardState && this.clampCommit(hardState),
      entries,
      compactedIndex: this.compactedIndex,
      compactedTerm: this.compactedTerm,
    };
  }

  /**
   * One batch, synced. One exception: a hard state that only moves the commit
   * index (same term and vote as the last one handed in, no entries) is written
   * without fsync and resolves at once. Only term and vote must be durable
   * before Raft acts on them; commit is a hint the leader teaches again, and a
   * lower one after a crash is harmless. Every commit advance is such a write,
   * so this halves a busy replica's fsyncs and lets it apply without waiting.
   */
  persist(update: { hardState?: HardState; entries?: Entry[] }): Promise<void> {
    this.assertLoaded();
    const entries = update.entries ?? [];
    const hs = update.hardState;
    // Validate before queueing, so a caller's mistake is reported at its call.
    if (entries.length > 0) this.checkAppend(entries);
    const onlyCommit =
      entries.length === 0 && hs !== undefined && hs.term === this.latestTerm && hs.vote === this.latestVote;
    if (hs) {
      this.latestTerm = hs.term;
      this.latestVote = hs.vote;
    }
    const write = this.enqueue(async () => {
      const batch = this.db.batch();
      let newLast = this.lastIndex;
      if (entries.length > 0) {
        if (entries[0]!.index > this.lastIndex + 1) {
          throw new Error(`append at ${entries[0]!.index} leaves a gap after ${this.lastIndex}`);
        }
        for (const entry of entries) {
          const key = entryKey(entry.index);
          batch.put(key, encodeEntry(key, entry));
        }
        newLast = entries[entries.length - 1]!.index;
        // A follower's conflicting suffix goes in the same write as its replacement.
        for (let i = newLast + 1; i <= this.lastIndex; i++) batch.del(entryKey(i));
      }
      if (hs) batch.put(HARD_STATE_KEY, encodeHardState(hs));
      if (newLast < this.lastIndex) await this.io(this.lowerMark(newLast));
      await this.io(batch.write({ sync: this.sync && !onlyCommit }));
      this.lastIndex = newLast;
      if (!onlyCommit) this.synced(hs);
    });
    if (!onlyCommit) return write;
    // Nobody waits for it, so a failure is reported here; the next synced write would fail too.
    write.catch((err: unknown) =>
      this.options.onWarning?.("could not write the commit hint", {
        dir: this.options.dir,
        err: String(err),
      }),
    );
    return Promise.resolve();
  }

  compact(index: number, term: number): Promise<void> {
    this.assertLoaded();
    return this.enqueue(async () => {
      if (index <= this.compactedIndex) return;
      const batch = this.db.batch();
      batch.put(COMPACTION_KEY, encodeCompaction(index, term));
      const dropTo = Math.min(index, this.lastIndex);
      for (let i = this.firstIndex; i <= dropTo; i++) batch.del(entryKey(i));
      // When index is past the end of the log (a snapshot from the leader), dropTo covers the whole log.
      // Not synced (the contract allows it): losing it only means compacting again. Nor is
      // the mark raised: lastIndex moves here only once a later synced write covers it.
      await this.io(batch.write({ sync: false }));
      this.compactedIndex = index;
      this.compactedTerm = term;
      this.firstIndex = index + 1;
      this.lastIndex = Math.max(this.lastIndex, index);
    });
  }

  /**
   * Drops every entry and makes (index, term) the compaction point, synced:
   * after a snapshot from the leader, no entry of an older history may survive.
   */
  resetTo(index: number, term: number): Promise<void> {
    this.assertLoaded();
    return this.enqueue(async () => {
      const batch = this.db.batch();
      batch.put(COMPACTION_KEY, encodeCompaction(index, term));
      for (let i = this.firstIndex; i <= this.lastIndex; i++) batch.del(entryKey(i));
      if (index < this.lastIndex) await this.io(this.lowerMark(index));
      await this.io(batch.write({ sync: this.sync }));
      this.compactedIndex = index;
      this.compactedTerm = term;
      this.firstIndex = index + 1;
      this.lastIndex = index;
      this.synced(undefined);
    });
  }

  /** The storage identity (issue 9: disk loss is detected by its change); null while none was written. */
  async readIdentity(): Promise<string | null> {
    this.assertLoaded();
    const value = await this.getRaw(IDENTITY_KEY);
    if (value === undefined) return null;
    try {
      return decodeIdentity(value);
    } catch (err) {
      throw this.corruption(null, `storage identity: ${(err as Error).message}`);
    }
  }

  /** Written once, synced, before the replica acts on anything. */
  writeIdentity(id: string): Promise<void> {
    this.assertLoaded();
    return this.enqueue(() => this.io(this.db.put(IDENTITY_KEY, encodeIdentity(id), { sync: this.sync })));
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.mark?.close().catch(() => undefined);
    this.mark = null;
    const db = this.db as Db | undefined; // none when load() was never called or refused the tables
    if (db !== undefined && (db.status === "open" || db.status === "opening")) await db.close();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const guarded = async () => {
      if (this.failure !== null) throw this.failure;
      await work();
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A write to disk: its failure stops every later write until reopen(). */
  private async io(write: Promise<void>): Promise<void> {
    try {
      await write;
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
  }

  /** After a synced write: everything written so far is on disk. */
  private synced(hs: HardState | undefined): void {
    if (!this.sync) return;
    if (hs) this.durableTerm = Math.max(this.durableTerm, hs.term);
    this.mark?.raise({ lastIndex: this.lastIndex, term: this.durableTerm });
  }

  /** Before the log shrinks on purpose: the mark must not claim entries about to be dropped. */
  private lowerMark(lastIndex: number): Promise<void> {
    return this.mark?.set({ lastIndex, term: this.durableTerm }) ?? Promise.resolve();
  }

  /**
   * The log must reach the durable mark, the hard state its term, and LevelDB
   * must not have skipped write-ahead-log records. --truncate-corrupt-tail
   * accepts lost entries (not a lost term: a vote may be gone with it).
   */
  private async checkAgainstMark(
    stored: MarkValue | null,
    dropped: string[],
    hardState: HardState | null,
  ): Promise<void> {
    const mark = this.mark!;
    const term = hardState?.term ?? 0;
    this.durableTerm = term;
    const current = { lastIndex: this.lastIndex, term };
    if (stored === null) {
      // A new directory, or one from before the mark existed.
      await mark.set(current);
      return;
    }
    const leveldb = dropped.length > 0 ? `; LevelDB reports: ${dropped.join(" | ")}` : "";
    const missing = this.lastIndex < stored.lastIndex;
    if (term < stored.term) {
      const entriesToo = missing
        ? `, and entries ${this.lastIndex + 1}..${stored.lastIndex} are missing`
        : "";
      throw this.corruption(
        missing ? this.lastIndex + 1 : null,
        `the hard state is at term ${term} but term ${stored.term} was synced (${mark.path}): ` +
          `the term and vote were lost${entriesToo}${leveldb}; refusing to start (see docs/operations.md: move the data directory aside and start with --join)`,
      );
    }
    if (!missing && dropped.length === 0) {
      if (this.lastIndex !== stored.lastIndex || term !== stored.term) await mark.set(current);
      return;
    }
    const what = missing
      ? `entries ${this.lastIndex + 1}..${stored.lastIndex} are missing: the log was synced up to ` +
        `${stored.lastIndex} (${mark.path}) but holds entries only up to ${this.lastIndex}`
      : "LevelDB skipped part of its write-ahead log while opening";
    if (!this.options.truncateCorruptTail) {
      throw this.corruption(
        missing ? this.lastIndex + 1 : null,
        `${what}${leveldb}; refusing to start (see docs/operations.md: --truncate-corrupt-tail)`,
      );
    }
    this.options.onWarning?.("accepted the loss of log entries (--truncate-corrupt-tail)", {
      dir: this.options.dir,
      reason: what,
      leveldb: dropped,
      ...(missing && { fromIndex: this.lastIndex + 1, toIndex: stored.lastIndex }),
    });
    await mark.set(current);
  }

  private assertLoaded(): void {
    if (!this.loaded) throw new Error("LevelLogStore: call load() before writing");
  }

  private checkAppend(entries: Entry[]): void {
    const first = entries[0]!.index;
    if (first <= this.compactedIndex) {
      throw new Error(
        `append at ${first} would overwrite compacted entries (compacted to ${this.compactedIndex})`,
      );
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first + i) throw new Error(`entries are not contiguous at ${first + i}`);
    }
  }

  private async readHardState(): Promise<HardState | null> {
    const value = await this.getRaw(HARD_STATE_KEY);
    if (value === undefined) return null;
    try {
      return decodeHardState(value);
    } catch (err) {
      throw this.corruption(null, `hard state: ${(err as Error).message}`);
    }
  }

  private async readCompaction(): Promise<void> {
    const value = await this.getRaw(COMPACTION_KEY);
    if (value === undefined) return;
    try {
      const { index, term } = decodeCompaction(value);
      this.compactedIndex = index;
      this.compactedTerm = term;
      this.firstIndex = index + 1;
    } catch (err) {
      throw this.corruption(null, `compaction record: ${(err as Error).message}`);
    }
  }

  private async readEntries(): Promise<Entry[]> {
    const entries: Entry[] = [];
    const stale: Buffer[] = [];
    let badIndex: number | null = null;
    let badDetail = "";
    let previousTerm = this.compactedTerm;
    try {
      for await (const [key, value] of this.db.iterator({ gte: ENTRY_KEY_MIN, lt: ENTRY_KEY_END })) {
        const index = keyIndex(key);
        if (index === null) {
          badIndex = entries.length > 0 ? this.firstIndex + entries.length : this.firstIndex;
          badDetail = `malformed entry key ${key.toString("hex")}`;
          break;
        }
        // Left behind by a compaction that crashed after its record was written.
        if (index <= this.compactedIndex) {
          stale.push(key);
          continue;
        }
        const expected = this.firstIndex + entries.length;
        if (index !== expected) {
          badIndex = expected;
          badDetail = `entry ${expected} is missing (next stored entry is ${index})`;
          break;
        }
        let entry: Entry;
        try {
          entry = decodeEntry(key, value);
        } catch (err) {
          badIndex = index;
          badDetail = err instanceof RecordError ? err.message : String(err);
          break;
        }
        if (entry.term < previousTerm) {
          badIndex = index;
          badDetail = `term ${entry.term} is lower than the previous entry's ${previousTerm}`;
          break;
        }
        previousTerm = entry.term;
        entries.push(entry);
      }
    } catch (err) {
      throw this.wrapLevelError(err, this.firstIndex + entries.length);
    }
    if (stale.length > 0) {
      const batch = this.db.batch();
      for (const key of stale) batch.del(key);
      await batch.write({ sync: false });
    }
    if (badIndex !== null) await this.handleCorruptTail(badIndex, badDetail);
    return entries;
  }

  private async handleCorruptTail(index: number, detail: string): Promise<void> {
    if (!this.options.truncateCorruptTail) {
      throw this.corruption(
        index,
        `${detail}; refusing to start (see docs/operations.md: --truncate-corrupt-tail)`,
      );
    }
    // Collect every key from the bad one on, readable or not, and drop them in one synced write.
    const batch = this.db.batch();
    let dropped = 0;
    for await (const key of this.db.keys({ gte: entryKey(index), lt: ENTRY_KEY_END })) {
      batch.del(key);
      dropped++;
    }
    await batch.write({ sync: true });
    this.options.onWarning?.("dropped an unreadable tail of the log", {
      dir: this.options.dir,
      fromIndex: index,
      entriesDropped: dropped,
      reason: detail,
    });
  }

  /** After a truncated tail the stored commit hint may point past the log; the leader re-teaches it. */
  private clampCommit(state: HardState): HardState {
    if (state.commit <= this.lastIndex) return state;
    this.options.onWarning?.("commit hint is past the end of the log; lowered", {
      dir: this.options.dir,
      commit: state.commit,
      lastIndex: this.lastIndex,
    });
    return { ...state, commit: this.lastIndex };
  }

  private async getRaw(key: Buffer): Promise<Buffer | undefined> {
    try {
      return await this.db.get(key);
    } catch (err) {
      throw this.wrapLevelError(err, null);
    }
  }

  private corruption(index: number | null, detail: string): StorageCorruptionError {
    return new StorageCorruptionError(this.options.dir, index, detail);
  }

  private wrapLevelError(err: unknown, index: number | null): Error {
    const code = (err as { code?: string; cause?: { code?: string } }).code;
    const causeCode = (err as { cause?: { code?: string } }).cause?.code;
    if (code === "LEVEL_CORRUPTION" || causeCode === "LEVEL_CORRUPTION") {
      return this.corruption(index, `LevelDB reports corruption: ${(err as Error).message}`);
    }
    return err as Error;
  }
}

function keyIndex(key: Buffer): number | null {
  try {
    return indexOfEntryKey(key);
  } catch (_err) {
    return null;
  }
}
