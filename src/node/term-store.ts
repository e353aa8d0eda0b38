// The highest coordinator term a node service has seen, kept on disk so that a
// restart does not forget it: a deposed leader must not get a command through
// just because the node restarted. Written atomically (temp file, fsync,
// rename, fsync of the directory) before a command of a newer term is obeyed.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";

const FILE = "fencing.json";

export class TermStoreError extends Error {
  override name = "TermStoreError";
}

export class TermStore {
  private highest: number;

  private constructor(
    private readonly dir: string,
    highest: number,
  ) {
    this.highest = highest;
  }

  /** Opens (creating the directory) and reads the stored term; 0 when there is none yet. */
  static open(dir: string): TermStore {
    mkdirSync(dir, { recursive: true });
    let text: string;
    try {
      text = readFileSync(join(dir, FILE), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new TermStore(dir, 0);
      throw new TermStoreError(`cannot read ${join(dir, FILE)}: ${String(err)}`);
    }
    let term: unknown;
    try {
      term = (JSON.parse(text) as { highestTerm?: unknown }).highestTerm;
    } catch {
      term = undefined;
    }
    // A damaged file must not silently reset fencing: refuse to start instead.
    if (typeof term !== "number" || !Number.isSafeInteger(term) || term < 0)
      throw new TermStoreError(`${join(dir, FILE)} is damaged: no valid highestTerm; refusing to guess`);
    return new TermStore(dir, term);
  }

  get highestTerm(): number {
    return this.highest;
  }

  /** Records `term` durably when it is newer than the highest seen; returns whether it was. */
  advance(term: number): boolean {
    if (term <= this.highest) return false;
    const path = join(this.dir, FILE);
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify({ highestTerm: term }) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dirFd = openSync(this.dir, "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.highest = term;
    return true;
  }
}
