// vitest globalSetup: every process a test starts, and everything those start
// (replicas, node services, their children), inherits HALON_TEST_RUN. Tests
// stop what they start; this is the net under them: at the end of the run, a
// process still carrying this run's tag is named and killed, so that no test
// leaves one behind on a developer's machine or CI (a node service killed
// between starting a child and recording it can orphan it).
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";

export function setup(): () => void {
  const value = randomBytes(8).toString("hex");
  process.env.HALON_TEST_RUN = value;
  return () => {
    const leaked = killTagged(`HALON_TEST_RUN=${value}`);
    if (leaked.length > 0)
      console.warn(
        `process guard: ${leaked.length} process(es) left behind by the tests, killed: ` +
          leaked.map((p) => `${p.pid} ${p.cmd}`).join("; "),
      );
  };
}

/**
 * Kills (SIGKILL) every process whose environment holds `tag` ("NAME=value"),
 * but this one and its direct children (vitest's own workers), and says which.
 */
export function killTagged(tag: string): { pid: number; cmd: string }[] {
  const found = taggedProcesses(tag);
  for (const p of found) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  return found;
}

function taggedProcesses(tag: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out; // not Linux: nothing to look at
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (!env.includes(tag)) continue;
      // stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after its closing paren.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) continue;
      out.push({ pid, cmd: readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim() });
    } catch {
      // exited, or not ours to read
    }
  }
  return out;
}
