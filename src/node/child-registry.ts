// Remembers on disk which processes this node service runs
// (`<dataDir>/children/<process id>.json`: pid, boot id, start time, command),
// so that after the node service itself was killed (SIGKILL, OOM, a crash),
// its next run finds the children of the former one and stops them before it
// starts anything: never two copies of a process. A recorded pid is trusted
// only when the kernel still shows the same process: same boot, same start
// time (in clock ticks since boot, /proc/<pid>/stat field 22) and same command
// line; a pid the kernel has since given to another process is left alone.
// The former children are stopped rather than adopted: their stdout and
// stderr were pipes to the dead node service (a write would kill them with
// SIGPIPE), and a process that is not our child cannot be waited for.
import { readdirSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Logger } from "../log/logger.js";
import { fsyncDir, readIfExists, writeFileAtomic } from "./atomic-file.js";

const recordSchema = z
  .object({
    processId: z.string(),
    instance: z.number().int().nonnegative(),
    pid: z.number().int().positive(),
    bootId: z.string(),
    startTicks: z.string(),
    cmdline: z.array(z.string()),
  })
  .strict();

export type ChildRecord = z.infer<typeof recordSchema>;

/** What the kernel says of a pid: undefined when there is no such process (or no /proc). */
export interface ProcIdentity {
  bootId: string;
  startTicks: string;
  cmdline: string[];
}

export function procIdentity(pid: number): ProcIdentity | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const startTicks = fields[19]; // field 22; fields[0] is field 3 (the state)
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (cmdline.at(-1) === "") cmdline.pop();
    if (startTicks === undefined) return undefined;
    return { bootId: bootId(), startTicks, cmdline };
  } catch {
    return undefined;
  }
}

let cachedBootId: string | undefined;
function bootId(): string {
  cachedBootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return cachedBootId;
}

/** What the sweep at start found and did, one line per former child. */
export interface SweepResult {
  processId: string;
  pid: number;
  action: "stopped" | "gone" | "pid-reused" | "unreadable";
}

const STOP_GRACE_MS = 5_000;

export class ChildRegistry {
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly logger: Logger,
  ) {
    this.dir = join(dataDir, "children");
    mkdirSync(this.dir, { recursive: true });
  }

  /** Records a child that just started; false when its identity cannot be read (it already ended). */
  record(processId: string, instance: number, pid: number): boolean {
    const id = procIdentity(pid);
    if (!id) return false;
    const rec: ChildRecord = { processId, instance, pid, ...id };
    writeFileAtomic(this.file(processId), JSON.stringify(rec) + "\n");
    return true;
  }

  /** The child ended (or was stopped): forget it, if it is still the one recorded. */
  forget(processId: string, pid: number): void {
    const rec = this.read(processId);
    if (rec === undefined || (rec !== "unreadable" && rec.pid !== pid)) return;
    try {
      unlinkSync(this.file(processId));
      fsyncDir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  /**
   * At start: stops every recorded child that is still the very process the
   * former run started (its whole process group), and clears the records.
   */
  async sweep(): Promise<SweepResult[]> {
    const results: SweepResult[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(".json")) continue;
      const path = join(this.dir, name);
      const rec = this.readPath(path);
      if (rec === "unreadable" || rec === undefined) {
        results.push({ processId: name.slice(0, -5), pid: 0, action: "unreadable" });
      } else {
        const now = procIdentity(rec.pid);
        if (now === undefined) results.push({ processId: rec.processId, pid: rec.pid, action: "gone" });
        else if (
          now.bootId !== rec.bootId ||
          now.startTicks !== rec.startTicks ||
          now.cmdline.join("\0") !== rec.cmdline.join("\0")
        )
          results.push({ processId: rec.processId, pid: rec.pid, action: "pid-reused" });
        else {
          await stopGroup(rec.pid, rec);
          results.push({ processId: rec.processId, pid: rec.pid, action: "stopped" });
        }
      }
      unlinkSync(path);
    }
    if (results.length > 0) {
      fsyncDir(this.dir);
      for (const r of results) this.logger.warn(r, "child of a former run of the node service");
    }
    return results;
  }

  private file(processId: string): string {
    return join(this.dir, `${encodeURIComponent(processId)}.json`);
  }

  private read(processId: string): ChildRecord | "unreadable" | undefined {
    return this.readPath(this.file(processId));
  }

  private readPath(path: string): ChildRecord | "unreadable" | undefined {
    const text = readIfExists(path);
    if (text === undefined) return undefined;
    try {
      return recordSchema.parse(JSON.parse(text));
    } catch {
      return "unreadable";
    }
  }
}

/**
 * SIGTERM to the child's process group (it leads its own: it was spawned
 * detached), then SIGKILL to the group after the grace period if the child
 * is still the same process.
 */
async function stopGroup(pid: number, rec: ChildRecord): Promise<void> {
  const same = () => {
    const now = procIdentity(pid);
    return (
      now !== undefined && now.startTicks === rec.startTicks && now.bootId === rec.bootId && !zombie(pid)
    );
  };
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + STOP_GRACE_MS;
  while (same() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (same()) signalGroup(pid, "SIGKILL");
  while (same() && Date.now() < deadline + STOP_GRACE_MS) await new Promise((r) => setTimeout(r, 20));
}

function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is gone (or was never a group): the leader alone, if still there.
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}
