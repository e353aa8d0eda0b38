// The highest coordinator term a node service has seen, kept on disk so that a
// restart does not forget it: a deposed leader must not get a command through
// just because the node restarted. Written atomically (temp file, fsync,
// rename, fsync of the directory) before a command of a newer term is obeyed.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { readIfExists, writeFileAtomic } from "./atomic-file.js";

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
    let text: string | undefined;
    try {
      text = readIfExists(join(dir, FILE));
    } catch (err) {
      throw new TermStoreError(`cannot read ${join(dir, FILE)}: ${String(err)}`);
    }
    if (text === undefined) return new TermStore(dir, 0);
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
    writeFileAtomic(join(this.dir, FILE), JSON.stringify({ highestTerm: term }) + "\n");
    this.highest = term;
    return true;
  }
}
