// Provider `exec`: runs the configured command (no shell), the way a cluster
// manager runs a fence agent, so that an IPMI tool or a cloud CLI plugs in.
// Its arguments may hold {node}, {host}, {cluster}, {term}, {leader},
// {command}, {index} and {attempt}; the same values are in its environment
// (HALON_NODE, HALON_HOST, ...), so a script can fence on the term itself.
// Exit code 0 is success; its stdout (or, on failure, stderr) is the detail.
// Past timeoutMs its whole process group is killed and the respawn failed.
import { spawn } from "node:child_process";
import type { InfraProviderConfig } from "../../config/index.js";
import type { RespawnNodeRequest } from "../../gen/halon/v1/infra.js";
import type { RespawnAnswer } from "./fenced-once.js";

type ExecConfig = Extract<InfraProviderConfig, { provider: "exec" }>;

/** The most output kept for the detail (it goes into the log). */
const DETAIL_MAX = 1_000;

function execValues(cluster: string, req: RespawnNodeRequest): Record<string, string> {
  return {
    node: req.nodeId,
    host: req.hostId,
    cluster,
    term: String(req.leaderTerm),
    leader: req.leaderId,
    command: req.commandId,
    index: String(req.issuedIndex),
    attempt: String(req.attempt),
  };
}

/** Fills {name} placeholders; an unknown name is left as it is. */
function fillArgs(args: string[], values: Record<string, string>): string[] {
  return args.map((a) => a.replace(/\{([a-z]+)\}/g, (whole, name: string) => values[name] ?? whole));
}

export function runExecProvider(
  cfg: ExecConfig,
  cluster: string,
  req: RespawnNodeRequest,
): Promise<RespawnAnswer> {
  const values = execValues(cluster, req);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(values)) env[`HALON_${k.toUpperCase()}`] = v;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(cfg.command, fillArgs(cfg.args, values), {
        stdio: ["ignore", "pipe", "pipe"],
        env,
        detached: true, // its own group: a timeout kills what it started too
      });
    } catch (err) {
      resolve({ ok: false, detail: `cannot run ${cfg.command}: ${(err as Error).message}` });
      return;
    }
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout = (stdout + b.toString("utf8")).slice(-DETAIL_MAX)));
    child.stderr.on("data", (b: Buffer) => (stderr = (stderr + b.toString("utf8")).slice(-DETAIL_MAX)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, cfg.timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      resolve({ ok: false, detail: `cannot run ${cfg.command}: ${err.message}` });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const out = stdout.trim();
      const err = stderr.trim();
      if (timedOut)
        resolve({
          ok: false,
          detail: `${cfg.command} timed out after ${cfg.timeoutMs} ms${err ? `: ${err}` : ""}`,
        });
      else if (code === 0) resolve({ ok: true, detail: out || `${cfg.command} exited 0` });
      else
        resolve({
          ok: false,
          detail: `${cfg.command} ${signal ? `killed by ${signal}` : `exited with code ${code}`}${err || out ? `: ${err || out}` : ""}`,
        });
    });
  });
}
