// Runs the node's configured processes as children, notices when one exits,
// and applies the node's own restart rule (the crash-loop rule of
// local-rules.ts, run by local-diagnosis.ts): a local restart with backoff
// within the budget, reported to the coordinator for the record; beyond it,
// ProcessFailed, and the coordinator decides (RespawnProcess).
// Each run has the instance number the coordinator gave it, or the next one
// for a local restart. Operations on one process are serialised.
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../log/logger.js";
import type { ChildRegistry } from "./child-registry.js";
import type { RestartDecider } from "./local-diagnosis.js";

export interface ProcessSpec {
  /** The process id in the coordinator's graph. */
  id: string;
  command: string;
  args: string[];
}

/** What the supervisor tells the coordinator. */
export interface SupervisorReports {
  started(processId: string, instance: number): void;
  restartedLocally(processId: string, instance: number, reason: string): void;
  failed(processId: string, instance: number, reason: string): void;
}

export type RunState = "idle" | "starting" | "running" | "backoff" | "failed" | "stopped";

export interface ProcessStatus {
  id: string;
  state: RunState;
  instance: number;
  pid: number | undefined;
  localRestarts: number;
}

export interface Outcome {
  ok: boolean;
  detail: string;
}

interface Supervised {
  spec: ProcessSpec;
  state: RunState;
  /** The current (or last) run. */
  instance: number;
  child: ChildProcess | null;
  restartTimer: NodeJS.Timeout | null;
  localRestarts: number;
  /** Tail of the operations queued on this process. */
  lock: Promise<unknown>;
}

/** How long a child has after SIGTERM before it is sent SIGKILL. */
const STOP_GRACE_MS = 5_000;

export class ProcessSupervisor {
  private readonly processes = new Map<string, Supervised>();
  private closing = false;

  constructor(
    specs: ProcessSpec[],
    private readonly decider: RestartDecider,
    private readonly reports: SupervisorReports,
    private readonly logger: Logger,
    /** Where each running child is recorded, so a later run can find it (child-registry.ts). */
    private readonly registry?: ChildRegistry,
  ) {
    for (const spec of specs)
      this.processes.set(spec.id, {
        spec,
        state: "idle",
        instance: 0,
        child: null,
        restartTimer: null,
        localRestarts: 0,
        lock: Promise.resolve(),
      });
  }

  has(id: string): boolean {
    return this.processes.has(id);
  }

  ids(): string[] {
    return [...this.processes.keys()];
  }

  status(id: string): ProcessStatus | undefined {
    const p = this.processes.get(id);
    if (!p) return undefined;
    return { id, state: p.state, instance: p.instance, pid: p.child?.pid, localRestarts: p.localRestarts };
  }

  /**
   * Makes the process run as `instance` (a StartProcesses or RespawnProcess of
   * the coordinator). Idempotent: a process already running as that instance or
   * a newer one is left alone. A running older instance is adopted under the new
   * number by a start, and replaced by a respawn (the coordinator asked for a
   * fresh run).
   */
  run(id: string, instance: number, mode: "start" | "respawn"): Promise<Outcome> {
    const p = this.processes.get(id);
    if (!p) return Promise.resolve({ ok: false, detail: `no process "${id}" on this node` });
    return this.serialise(p, async () => {
      if (this.closing) return { ok: false, detail: "the node service is stopping" };
      const alive = p.child !== null && (p.state === "running" || p.state === "starting");
      if (alive && instance <= p.instance) {
        // Tell the coordinator again, in case it is waiting for this run.
        this.reports.started(id, p.instance);
        return { ok: true, detail: `${id} already runs as instance ${p.instance}` };
      }
      if (alive && mode === "start") {
        p.instance = instance;
        this.reports.started(id, instance);
        return { ok: true, detail: `${id} already running; now instance ${instance}` };
      }
      if (alive) await this.halt(p, "stopped");
      this.cancelRestart(p);
      const started = await this.spawnRun(p, instance);
      if (started.ok) {
        // A run the coordinator asked for: a fresh local budget after an escalation.
        this.decider.onCommandedStart(id);
        this.reports.started(id, instance);
      }
      return started;
    });
  }

  /** Stops the process (a StopProcesses): no restart until the coordinator starts it again. */
  stop(id: string): Promise<Outcome> {
    const p = this.processes.get(id);
    if (!p) return Promise.resolve({ ok: false, detail: `no process "${id}" on this node` });
    return this.serialise(p, async () => {
      this.cancelRestart(p);
      await this.halt(p, "stopped");
      return { ok: true, detail: `${id} stopped` };
    });
  }

  /** Stops every child (SIGTERM by pid, then SIGKILL after a grace period). */
  async stopAll(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [...this.processes.values()].map(async (p) => {
        this.cancelRestart(p);
        await this.halt(p, "stopped");
      }),
    );
  }

  private serialise<T>(p: Supervised, op: () => Promise<T>): Promise<T> {
    const next = p.lock.then(op, op);
    p.lock = next.catch(() => undefined);
    return next;
  }

  /** Starts one run; resolves once the child has started or could not. */
  private spawnRun(p: Supervised, instance: number): Promise<Outcome> {
    p.instance = instance;
    p.state = "starting";
    let child: ChildProcess;
    try {
      // Its own process group: a Ctrl-C at the terminal reaches the node service,
      // which stops its children itself, in order.
      child = spawn(p.spec.command, p.spec.args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    } catch (err) {
      // spawn throws synchronously on some bad arguments (an empty command...).
      const reason = `cannot start: ${(err as Error).message}`;
      this.exited(p, null, reason);
      return Promise.resolve({ ok: false, detail: `${p.spec.id}: ${reason}` });
    }
    p.child = child;
    this.forwardOutput(p, child, instance);
    return new Promise((resolve) => {
      let over = false;
      const end = (reason: string) => {
        if (over) return;
        over = true;
        resolve({ ok: false, detail: `${p.spec.id}: ${reason}` });
        this.exited(p, child, reason);
      };
      let spawned = false;
      child.once("spawn", () => {
        spawned = true;
        if (p.child === child) p.state = "running";
        this.remember(p, child, instance);
        this.logger.info({ process: p.spec.id, instance, pid: child.pid }, "process started");
        resolve({ ok: true, detail: `${p.spec.id} started as instance ${instance} (pid ${child.pid})` });
      });
      child.on("error", (err) => {
        // After the start, an error is a failed signal: the run goes on, its exit will tell.
        if (spawned)
          this.logger.warn({ process: p.spec.id, instance, err: err.message }, "child process error");
        else end(`cannot start: ${err.message}`);
      });
      child.once("exit", (code, signal) => {
        this.forget(p, child);
        if (over) return;
        over = true;
        this.exited(p, child, signal !== null ? `killed by ${signal}` : `exited with code ${code}`);
      });
    });
  }

  /** A run ended: restart it locally, or report it failed, unless it was meant to stop. */
  private exited(p: Supervised, child: ChildProcess | null, reason: string): void {
    if (child !== null && p.child !== child) return; // a replaced run
    p.child = null;
    if (p.state === "stopped" || this.closing) return;
    const instance = p.instance;
    const decision = this.decider.onExit(p.spec.id, reason);
    if (!decision.restart) {
      p.state = "failed";
      this.logger.warn(
        { process: p.spec.id, instance, reason, recentRestarts: decision.recent },
        "process failed beyond the local restart budget; reporting it to the coordinator",
      );
      this.reports.failed(p.spec.id, instance, `${reason} (after ${decision.recent} local restarts)`);
      return;
    }
    p.state = "backoff";
    this.logger.warn(
      { process: p.spec.id, instance, reason, restartInMs: decision.delayMs },
      "process exited",
    );
    p.restartTimer = setTimeout(() => {
      p.restartTimer = null;
      void this.serialise(p, async () => {
        if (p.state !== "backoff" || this.closing) return; // a command took over meanwhile
        const next = p.instance + 1;
        const started = await this.spawnRun(p, next);
        if (started.ok) {
          p.localRestarts++;
          this.reports.restartedLocally(p.spec.id, next, reason);
        }
      });
    }, decision.delayMs);
  }

  private remember(p: Supervised, child: ChildProcess, instance: number): void {
    if (!this.registry || child.pid === undefined) return;
    try {
      this.registry.record(p.spec.id, instance, child.pid);
    } catch (err) {
      // The run goes on; only a SIGKILLed node service's next run would miss it.
      this.logger.error({ process: p.spec.id, pid: child.pid, err: String(err) }, "cannot record the child");
    }
  }

  private forget(p: Supervised, child: ChildProcess): void {
    if (!this.registry || child.pid === undefined) return;
    try {
      this.registry.forget(p.spec.id, child.pid);
    } catch (err) {
      this.logger.warn({ process: p.spec.id, pid: child.pid, err: String(err) }, "cannot forget the child");
    }
  }

  private cancelRestart(p: Supervised): void {
    if (p.restartTimer) clearTimeout(p.restartTimer);
    p.restartTimer = null;
  }

  /** Ends the current run (if any) for good; resolves when the child has exited. */
  private async halt(p: Supervised, state: "stopped"): Promise<void> {
    p.state = state;
    const child = p.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      p.child = null;
      return;
    }
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // The child leads its own process group: what it started goes with it.
    signalGroup(child, "SIGTERM");
    const timer = setTimeout(() => signalGroup(child, "SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
    this.logger.info({ process: p.spec.id, instance: p.instance, pid: child.pid }, "process stopped");
  }

  private forwardOutput(p: Supervised, child: ChildProcess, instance: number): void {
    const forward = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n"))
        if (line.trim() !== "")
          this.logger.info({ process: p.spec.id, instance, stream }, line.slice(0, 2_000));
    };
    child.stdout?.on("data", forward("stdout"));
    child.stderr?.on("data", forward("stderr"));
  }
}

/** A signal to the child's process group, or to the child alone when that fails. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined)
    try {
      process.kill(-child.pid, signal);
      return;
    } catch {
      // no such group (the child is gone, or not a group leader): fall through
    }
  child.kill(signal);
}
