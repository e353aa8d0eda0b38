// What LevelDB says about its own recovery. classic-level does not expose
// LevelDB's paranoid_checks, so a corrupt write-ahead-log record is skipped at
// open and only reported in the database's info log (the file LOG, which
// LevelDB starts afresh at every open, moving the previous one to LOG.old):
//
//   (ignoring error) /dir/000003.log: dropping 1234 bytes; Corruption: checksum mismatch
//
// A torn tail left by a crash is not reported there (LevelDB treats an
// incomplete last record as the end of the log), so every line found here means
// that bytes which had once been written completely were thrown away.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const DROPPED = /dropping \d+ bytes|Ignoring error/;

/** The lines of LevelDB's info log (dir/LOG) that report data it skipped while opening. */
export async function droppedAtOpen(dir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(dir, "LOG"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return text
    .split("\n")
    .filter((line) => DROPPED.test(line))
    .map((line) => line.replace(/^\S+ \S+ /, "").trim());
}
