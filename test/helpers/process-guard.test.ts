// The net under every test's own cleanup (global-process-guard.ts): a process
// carrying the tag, however far from the test that started it, is found and
// killed; one without it is left alone.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { killTagged } from "./global-process-guard.js";

/** Running: a zombie (killed, not yet reaped by whoever inherited it) is not. */
const alive = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

describe("the process guard", () => {
  it("kills a tagged grandchild left behind, and nothing untagged", async () => {
    const tag = `HALON_GUARD_TEST=${randomBytes(6).toString("hex")}`;
    const [name, value] = tag.split("=") as [string, string];
    // A shell that starts a detached sleep and exits: the sleep is orphaned, as a leak would be.
    const sh = spawn("sh", ["-c", "sleep 60 & echo $!"], { env: { ...process.env, [name]: value } });
    const pid = await new Promise<number>((resolve) =>
      sh.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    const untagged = spawn("sleep", ["60"]);
    try {
      expect(alive(pid)).toBe(true);
      const killed = killTagged(tag);
      expect(killed.map((p) => p.pid)).toContain(pid);
      expect(killed.find((p) => p.pid === pid)?.cmd).toBe("sleep 60");
      expect(killed.map((p) => p.pid)).not.toContain(untagged.pid);
      await new Promise((r) => setTimeout(r, 100));
      expect(alive(pid)).toBe(false);
      expect(alive(untagged.pid!)).toBe(true);
    } finally {
      untagged.kill("SIGKILL");
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });
});
