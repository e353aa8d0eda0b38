import { spawnSync } from "node:child_process";

/** Runs the `halon` CLI from source in a child process and returns what it printed. */
export function runCli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    encoding: "utf8",
    env: { ...process.env, HALON_LOG_FORMAT: "json" },
    timeout: 60_000, // a loaded machine starts tsx slowly
  });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}
