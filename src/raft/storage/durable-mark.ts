// The durable mark: a small file next to LevelDB's own files that remembers how
// far the log reached on disk (last index) and the highest term synced. At start
// the log store compares what LevelDB gives back with it. LevelDB recovers its
// write-ahead log leniently: a corrupt record is skipped with a line in its LOG
// file and the rest of that 32 KiB block goes with it, so acknowledged entries
// can vanish without an error. The mark keeps them accountable from outside the
// WAL's fate.
//
// Cost: the mark is raised in the background, at most once per `intervalMs`
// (one small write + fdatasync), never on the acknowledgement path; it may
// therefore lag the log by that long, and the LevelDB LOG check
// (leveldb-info-log.ts) covers that window. It is lowered synchronously, before
// the log shrinks (a follower's conflicting suffix, a snapshot from the
// leader), which is rare. So loaded log >= mark always holds unless data was lost.
//
// Layout: two 32-byte slots written alternately, so a torn write leaves the other:
//   crc32c(4) | version(4) = 1 | sequence(8) | lastIndex(8) | term(8)
// The crc covers bytes 4..31. The valid slot with the higher sequence wins.
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { StorageCorruptionError } from "../storage.js";
import { crc32c } from "./crc32c.js";

export const DURABLE_MARK_FILE = "HALON-MARK";
const SLOT = 32;
const VERSION = 1;

export interface MarkValue {
  /** Every index up to this one was on disk (synced) at some point, unless the log was legitimately shortened since. */
  lastIndex: number;
  /** The hard state's term was synced at least this high. */
  term: number;
}

export interface DurableMarkOptions {
  /** Longest time a raise waits before it is written. Default 100 ms. */
  intervalMs?: number;
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

export class DurableMark {
  private sequence: number;
  private current: MarkValue;
  private pending: MarkValue | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The tail of the write chain: writes never overlap, so slots alternate in order. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    stored: { sequence: number; value: MarkValue } | null,
    private readonly options: DurableMarkOptions,
  ) {
    this.sequence = stored?.sequence ?? 0;
    this.current = stored?.value ?? { lastIndex: 0, term: 0 };
  }

  /**
   * Opens (or creates) the mark in `dir`; `stored` is null when there was none
   * (a new directory, or one written before the mark existed). Throws
   * StorageCorruptionError when the file exists and neither slot verifies.
   */
  static async open(
    dir: string,
    options: DurableMarkOptions = {},
  ): Promise<{ mark: DurableMark; stored: MarkValue | null }> {
    const path = join(dir, DURABLE_MARK_FILE);
    let handle: FileHandle;
    let created = false;
    try {
      handle = await open(path, "r+");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      handle = await open(path, "w+", 0o600);
      created = true;
    }
    try {
      const stored = created ? null : await readSlots(handle, path);
      const mark = new DurableMark(path, handle, stored, options);
      if (created) {
        // Both slots exist from the start, so that a torn later write always leaves the other one.
        await mark.write({ lastIndex: 0, term: 0 });
        await syncDirectory(dir);
      }
      return { mark, stored: stored?.value ?? null };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  get value(): MarkValue {
    return { ...(this.pending ?? this.current) };
  }

  /** Raises the mark in the background (coalesced); the caller does not wait. */
  raise(value: MarkValue): void {
    if (this.closed) return;
    const base = this.pending ?? this.current;
    if (value.lastIndex <= base.lastIndex && value.term <= base.term) return;
    this.pending = {
      lastIndex: Math.max(value.lastIndex, base.lastIndex),
      term: Math.max(value.term, base.term),
    };
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flushPending(), this.options.intervalMs ?? 100);
      this.timer.unref();
    }
  }

  /** Writes `value` now, synced, replacing anything pending: used to lower the mark before the log shrinks. */
  set(value: MarkValue): Promise<void> {
    this.cancelTimer();
    this.pending = null;
    return this.chain(value);
  }

  /** Writes what is pending, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.cancelTimer();
    if (this.pending !== null) {
      const value = this.pending;
      this.pending = null;
      await this.chain(value).catch((err: unknown) => this.warn(err));
    }
    this.closed = true;
    await this.writing.catch(() => undefined);
    await this.handle.close();
  }

  private flushPending(): void {
    this.timer = null;
    if (this.pending === null || this.closed) return;
    const value = this.pending;
    this.pending = null;
    this.chain(value).catch((err: unknown) => {
      // Not fatal: the mark only lags. Keep the value for the next raise.
      this.warn(err);
      if (this.pending === null) this.pending = value;
    });
  }

  private chain(value: MarkValue): Promise<void> {
    const run = this.writing.then(() => this.write(value));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async write(value: MarkValue): Promise<void> {
    const sequence = this.sequence + 1;
    const slot = Buffer.alloc(SLOT);
    slot.writeUInt32BE(VERSION, 4);
    writeU64(slot, sequence, 8);
    writeU64(slot, value.lastIndex, 16);
    writeU64(slot, value.term, 24);
    slot.writeUInt32BE(crc32c(slot.subarray(4)), 0);
    await this.handle.write(slot, 0, SLOT, (sequence % 2) * SLOT);
    await this.handle.datasync();
    this.sequence = sequence;
    this.current = { ...value };
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private warn(err: unknown): void {
    this.options.onWarning?.("could not write the durable mark", { file: this.path, err: String(err) });
  }
}

async function readSlots(
  handle: FileHandle,
  path: string,
): Promise<{ sequence: number; value: MarkValue } | null> {
  const buf = Buffer.alloc(2 * SLOT);
  const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
  // Created but its first write did not finish (a crash during creation): nothing was promised yet.
  if (bytesRead < 2 * SLOT) return null;
  let best: { sequence: number; value: MarkValue } | null = null;
  for (let offset = 0; offset + SLOT <= bytesRead; offset += SLOT) {
    const slot = buf.subarray(offset, offset + SLOT);
    if (slot.readUInt32BE(0) !== crc32c(slot.subarray(4)) || slot.readUInt32BE(4) !== VERSION) continue;
    const sequence = readU64(slot, 8);
    if (best === null || sequence > best.sequence)
      best = { sequence, value: { lastIndex: readU64(slot, 16), term: readU64(slot, 24) } };
  }
  if (best === null)
    throw new StorageCorruptionError(path, null, "the durable mark does not verify (both slots are corrupt)");
  return best;
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
