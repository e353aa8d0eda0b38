// The state hashes a replica reported (in its status: `halon status --json`),
// kept in a small file in its data directory, so that `halon replay` can
// rebuild the state offline from the snapshot and log and check that it comes
// to the same hash at the same index. One "index sha256" line per report, at
// most one a second; the file keeps the latest lines only.
import { appendFile, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";

export const REPORTED_HASHES_FILE = "reported-state-hashes";

export interface ReportedHash {
  index: number;
  hash: string;
}

export class ReportedHashes {
  private lastIndex = -1;
  private lastAt = 0;
  private lines = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly file: string,
    private readonly onError: (err: unknown) => void,
    private readonly minIntervalMs = 1_000,
    private readonly keep = 1_000,
  ) {
    if (existsSync(file)) this.lines = readReportedHashes(file).length;
  }

  /** Records a reported hash (skipped when the index is unchanged or the last one was very recent). */
  note(index: number, hash: string): void {
    const now = Date.now();
    if (index === this.lastIndex || now - this.lastAt < this.minIntervalMs) return;
    this.lastIndex = index;
    this.lastAt = now;
    this.lines++;
    const line = `${index} ${hash}\n`;
    const trim = this.lines > 2 * this.keep;
    if (trim) this.lines = this.keep;
    this.writing = this.writing
      .then(async () => {
        await appendFile(this.file, line);
        if (trim) {
          const kept = readReportedHashes(this.file).slice(-this.keep);
          await writeFile(this.file, kept.map((h) => `${h.index} ${h.hash}\n`).join(""));
        }
      })
      .catch(this.onError);
  }

  /** Resolves once what was noted is on disk. */
  flushed(): Promise<void> {
    return this.writing;
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
