// The state hashes a replica reported (in its status: `halon status --json`),
// kept in a small file in its data directory, so that `halon replay` can
// rebuild the state offline from the snapshot and log and check that it comes
// to the same hash at the same index. One "index sha256" line per report, at
// most one a second: a report within the second is written when the second is
// over (or at a clean stop, see flushed()), so the newest hash a status showed
// is always in the file. The file keeps the latest lines only.
import { appendFile, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";

export const REPORTED_HASHES_FILE = "reported-state-hashes";

export interface ReportedHash {
  index: number;
  hash: string;
}

export class ReportedHashes {
  private lastIndex = -1;
  private lastAt = -Infinity;
  private lines = 0;
  private writing: Promise<void> = Promise.resolve();
  /** A report that came within the interval, written when it is over. */
  private pending: ReportedHash | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly file: string,
    private readonly onError: (err: unknown) => void,
    private readonly minIntervalMs = 1_000,
    private readonly keep = 1_000,
  ) {
    if (existsSync(file)) this.lines = readReportedHashes(file).length;
  }

  /** Records a reported hash: now, or when the interval since the last write is over. */
  note(index: number, hash: string): void {
    if (index === this.lastIndex) return;
    const wait = this.lastAt + this.minIntervalMs - Date.now();
    if (wait <= 0) {
      this.write({ index, hash });
      return;
    }
    this.pending = { index, hash };
    this.timer ??= setTimeout(() => this.writePending(), wait);
    this.timer.unref();
  }

  /** Writes what is pending, and resolves once everything noted is on disk. */
  flushed(): Promise<void> {
    this.writePending();
    return this.writing;
  }

  private writePending(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const p = this.pending;
    this.pending = null;
    if (p && p.index !== this.lastIndex) this.write(p);
  }

  private write(h: ReportedHash): void {
    this.pending = null;
    this.lastIndex = h.index;
    this.lastAt = Date.now();
    this.lines++;
    const line = `${h.index} ${h.hash}\n`;
    const trim = this.lines > 2 * this.keep;
    if (trim) this.lines = this.keep;
    this.writing = this.writing
      .then(async () => {
        await appendFile(this.file, line);
        if (trim) {
          const kept = readReportedHashes(this.file).slice(-this.keep);
          await writeFile(this.file, kept.map((k) => `${k.index} ${k.hash}\n`).join(""));
        }
      })
      .catch(this.onError);
  }
}

/** The reported hashes in the file, oldest first; lines that are not "index hash" are skipped. */
export function readReportedHashes(file: string): ReportedHash[] {
  if (!existsSync(file)) return [];
  const out: ReportedHash[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^(\d+) ([0-9a-f]{64})$/.exec(line);
    if (m) out.push({ index: Number(m[1]), hash: m[2]! });
  }
  return out;
}
