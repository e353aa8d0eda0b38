// The node's local diagnosis: the CEP disk-health rule (n errors within t,
// then failed; replaced or repaired, then healthy), its state surviving a
// restart through the snapshot file, and the disk probes (a real command, a
// file) feeding it.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { DiskProber, parseProbeText, probeDisk } from "../../src/node/disk-probe.js";
import { LocalDiagnosis } from "../../src/node/local-diagnosis.js";
import type { LocalAction } from "../../src/node/local-rules.js";
import { diskProbeSchema } from "../../src/config/index.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const logger = createLogger({ name: "test", level: "silent" });
const temp = makeTempDir("halon-diagnosis-");
afterAll(() => temp.remove());
const policy = { budget: 1, windowMs: 1_000, baseDelayMs: 10, maxDelayMs: 10 };

describe("the disk-health rule", () => {
  it("marks a disk failed at the n-th error within t, once; spread-out errors do not; a replacement heals it", () => {
    let now = 0;
    const d = LocalDiagnosis.open({ policy, disk: { errors: 3, withinMs: 1_000 }, logger, now: () => now });
    const at = (t: number, disk: string, result: "ok" | "error" | "replaced", serial = "") => {
      now = t;
      return d.probe(disk, result, `io error at ${t}`, serial);
    };
    // Errors 600 ms apart: never three within 1 s.
    for (const t of [0, 600, 1_200, 1_800, 2_400]) expect(at(t, "d1", "error")).toEqual([]);
    expect(d.phaseOf("disk-health", "d1")).toBe("healthy");
    // The third within 1 s (1800, 2400, 2500).
    expect(at(2_500, "d1", "error")).toEqual<LocalAction[]>([
      { action: "disk-failed", disk: "d1", errors: 3, detail: "io error at 2500" },
    ]);
    // Once failed, more errors and oks say nothing new.
    expect(at(2_700, "d1", "error")).toEqual([]);
    expect(at(2_800, "d1", "ok")).toEqual([]);
    expect(d.phaseOf("disk-health", "d1")).toBe("failed");
    // Healthy disks are not tracked at all: an ok creates nothing.
    expect(at(2_900, "d2", "ok")).toEqual([]);
    expect(d.phaseOf("disk-health", "d2")).toBeUndefined();
    expect(at(3_000, "d1", "replaced", "SN-2")).toEqual([
      { action: "disk-replaced", disk: "d1", serial: "SN-2" },
    ]);
    expect(d.phaseOf("disk-health", "d1")).toBe("healthy");
    // A replacement of a healthy disk is not news; a new failure needs n fresh errors.
    expect(at(3_100, "d1", "replaced", "SN-2")).toEqual([]);
    expect(at(3_200, "d1", "error")).toEqual([]);
  });

  it("keeps its counts across a restart of the node service (the snapshot file); a damaged file starts afresh", () => {
    const file = join(temp.dir, "diagnosis.json");
    let now = 5_000;
    const open = () =>
      LocalDiagnosis.open({ file, policy, disk: { errors: 3, withinMs: 10_000 }, logger, now: () => now });
    const first = open();
    first.probe("d1", "error", "e1");
    first.probe("d1", "error", "e2");
    expect(first.onExit("p1", "killed")).toEqual({ restart: true, delayMs: 10 });
    // The clock went back (a restart, a clock step): the diagnosis's time does not.
    now = 4_000;
    const second = open();
    expect(second.onExit("p1", "killed")).toEqual({ restart: false, recent: 1 });
    expect(second.probe("d1", "error", "e3")).toEqual([
      { action: "disk-failed", disk: "d1", errors: 3, detail: "e3" },
    ]);
    writeFileSync(file, '{"time": 1, "engine": {"format": "nonsense"}}');
    const third = open();
    expect(existsSync(`${file}.damaged`)).toBe(true);
    expect(third.phaseOf("disk-health", "d1")).toBeUndefined();
    expect(third.onExit("p1", "killed")).toEqual({ restart: true, delayMs: 10 });
  });
});

describe("the disk probes", () => {
  it("reads the probe's words", () => {
    expect(parseProbeText("ok\n")).toMatchObject({ result: "ok" });
    expect(parseProbeText("ERROR medium error at sector 7")).toMatchObject({
      result: "error",
      detail: "medium error at sector 7",
    });
    expect(parseProbeText("replaced SN-9 new disk")).toMatchObject({ result: "replaced", serial: "SN-9" });
    expect(parseProbeText("repaired")).toMatchObject({ result: "replaced", serial: "" });
    expect(parseProbeText("maybe")).toBeUndefined();
  });

  it("a command probe: exit 0 healthy (or its replaced word), non-zero an error, a hang an error", async () => {
    const script = join(temp.dir, "probe.sh");
    writeFileSync(
      script,
      '#!/bin/sh\ncase "$1" in\n  d-ok) echo ok ;;\n  d-new) echo "replaced SN-5" ;;\n  d-hang) sleep 600 ;;\n  *) echo "smart: reallocated sectors" >&2; exit 2 ;;\nesac\n',
    );
    chmodSync(script, 0o755);
    const cfg = diskProbeSchema.parse({ command: script, timeoutMs: 300 });
    expect(await probeDisk(cfg, "d-ok")).toMatchObject({ result: "ok" });
    expect(await probeDisk(cfg, "d-new")).toMatchObject({ result: "replaced", serial: "SN-5" });
    expect(await probeDisk(cfg, "d-bad")).toMatchObject({
      result: "error",
      detail: `${script} exited with code 2: smart: reallocated sectors`,
    });
    expect(await probeDisk(cfg, "d-hang")).toMatchObject({
      result: "error",
      detail: expect.stringContaining("SIGKILL"),
    });
    expect(() => diskProbeSchema.parse({ command: script, file: "x" })).toThrow(/exactly one/);
    expect(() => diskProbeSchema.parse({})).toThrow(/exactly one/);
  });

  it("a file probe feeds the rule round by round; the prober hands over what the rule decides", async () => {
    const cfg = diskProbeSchema.parse({ file: join(temp.dir, "health-{disk}"), errors: 2, withinMs: 60_000 });
    const d = LocalDiagnosis.open({ policy, disk: cfg, logger });
    const acts: LocalAction[] = [];
    const prober = new DiskProber(cfg, ["da", "db"], d, (a) => acts.push(a), logger);
    await prober.round(); // no files: healthy
    writeFileSync(join(temp.dir, "health-db"), "error EIO\n");
    await prober.round();
    expect(acts).toEqual([]);
    await prober.round();
    expect(acts).toEqual([{ action: "disk-failed", disk: "db", errors: 2, detail: "EIO" }]);
    writeFileSync(join(temp.dir, "health-db"), "replaced SN-7\n");
    await prober.round();
    await prober.round();
    expect(acts.slice(1)).toEqual([{ action: "disk-replaced", disk: "db", serial: "SN-7" }]);
    prober.stop();
  });
});
