// Runs `halon node` from source as a real child process for tests; its JSON
// log goes to a file, from which the tests read the pids of its children.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

export interface NodeProcess {
  child: ChildProcess;
  logFile: string;
  /** The pids of the runs of `processId` that the node service started, in order. */
  pids(processId: string): number[];
  /** Sends a signal by pid and waits for the exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<ChildProcess>();
// A test that dies without its afterAll must not leave node services behind.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function startNode(
  configFile: string,
  nodeId: string,
  logFile: string,
  args: string[] = [],
): NodeProcess {
  const out = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "node", "--config", configFile, "--id", nodeId, ...args],
    {
      stdio: ["ignore", out, out],
      env: { ...process.env, HALON_LOG_FORMAT: "json", HALON_LOG_LEVEL: "info" },
    },
  );
  closeSync(out);
  running.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    logFile,
    pids(processId) {
      const pids: number[] = [];
      for (const line of readFileSync(logFile, "utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as { msg?: string; process?: string; pid?: number };
        if (entry.msg === "process started" && entry.process === processId && entry.pid) pids.push(entry.pid);
      }
      return pids;
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/**
 * Whether a process with this pid runs (signal 0 checks without sending
 * anything); a zombie (ended, not yet reaped by whoever adopted it) does not.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}
