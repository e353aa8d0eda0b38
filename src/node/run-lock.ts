// One node service per data directory: `<dataDir>/node.lock` names the pid,
// boot and start time of the run that holds it. A second `halon node` for the
// same node (a mistake, or a respawn racing a slow exit) must not sweep the
// first one's children as if they were orphans: it refuses to start while the
// holder still runs. A lock whose holder is gone (SIGKILL, a crash, a reboot)
// is taken over.
import { unlinkSync } from "node:fs";
import { join } from "node:path";
import { readIfExists, writeFileAtomic } from "./atomic-file.js";
import { procIdentity } from "./child-registry.js";

export class RunLockError extends Error {
  override name = "RunLockError";
}

export class RunLock {
  private constructor(private readonly path: string) {}

  static acquire(dataDir: string): RunLock {
    const path = join(dataDir, "node.lock");
    const text = readIfExists(path);
    if (text !== undefined) {
      let holder: { pid?: unknown; bootId?: unknown; startTicks?: unknown } = {};
      try {
        holder = JSON.parse(text) as typeof holder;
      } catch {
        // A torn lock file: its holder cannot be told, and a run that held it is gone.
      }
      if (typeof holder.pid === "number" && holder.pid !== process.pid) {
        const now = procIdentity(holder.pid);
        if (now !== undefined && now.bootId === holder.bootId && now.startTicks === holder.startTicks)
          throw new RunLockError(
            `another node service (pid ${holder.pid}) runs with data directory ${dataDir}; stop it first`,
          );
      }
    }
    const me = procIdentity(process.pid);
    writeFileAtomic(
      path,
      JSON.stringify({ pid: process.pid, ...(me && { bootId: me.bootId, startTicks: me.startTicks }) }) +
        "\n",
    );
    return new RunLock(path);
  }

  release(): void {
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
