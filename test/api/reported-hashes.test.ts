// The file `halon replay` checks against: whatever a status showed must be in
// it, however close together the reports came (CI once saw a status hash that a
// one-a-second limit had dropped).
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readReportedHashes, ReportedHashes } from "../../src/api/reported-hashes.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const h = (n: number) => n.toString(16).padStart(64, "0");

describe("ReportedHashes", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  beforeEach(() => {
    tmp = makeTempDir("halon-reported-");
  });
  afterEach(() => tmp.remove());

  it("writes a report that came within the interval at a clean stop", async () => {
    const file = join(tmp.dir, "hashes");
    const errors: unknown[] = [];
    const r = new ReportedHashes(file, (e) => errors.push(e), 60_000);
    r.note(20, h(20));
    r.note(25, h(25));
    r.note(35, h(35));
    await r.flushed();
    expect(readReportedHashes(file)).toEqual([
      { index: 20, hash: h(20) },
      { index: 35, hash: h(35) },
    ]);
    expect(errors).toEqual([]);
  });

  it("writes a report that came within the interval once the interval is over", async () => {
    const file = join(tmp.dir, "hashes");
    const r = new ReportedHashes(
      file,
      (e) => {
        throw e;
      },
      50,
    );
    r.note(1, h(1));
    r.note(2, h(2));
    await new Promise((res) => setTimeout(res, 150));
    await r.flushed();
    expect(readReportedHashes(file).map((x) => x.index)).toEqual([1, 2]);
    r.note(2, h(2));
    await r.flushed();
    expect(readReportedHashes(file).map((x) => x.index)).toEqual([1, 2]);
  });

  it("keeps the latest lines only", async () => {
    const file = join(tmp.dir, "hashes");
    const r = new ReportedHashes(
      file,
      (e) => {
        throw e;
      },
      0,
      3,
    );
    for (let i = 1; i <= 10; i++) r.note(i, h(i));
    await r.flushed();
    const kept = readReportedHashes(file).map((x) => x.index);
    expect(kept.at(-1)).toBe(10);
    expect(kept.length).toBeLessThanOrEqual(6);
    expect(kept.length).toBeGreaterThanOrEqual(3);
  });
});
