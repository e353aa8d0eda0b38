// The node service's memory across its own restarts, with real files and real
// processes: the state file (epoch, incarnation, answers with a retention), the
// executor answering a command again after a "restart" without doing it twice,
// and the child registry, which stops a former run's child only when the
// kernel still shows that very process.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/logger.js";
import { ChildRegistry, procIdentity } from "../../src/node/child-registry.js";
import { CommandExecutor } from "../../src/node/command-executor.js";
import { NodeStateError, NodeStateStore } from "../../src/node/node-state-store.js";
import { ProcessSupervisor } from "../../src/node/process-supervisor.js";
import { RunLock, RunLockError } from "../../src/node/run-lock.js";
import { LocalDiagnosis } from "../../src/node/local-diagnosis.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { alive } from "./node-process.js";

const logger = createLogger({ name: "test", level: "silent" });
const temp = makeTempDir("halon-node-state-");
let dirs = 0;
const freshDir = () => join(temp.dir, `d${++dirs}`);
const started: number[] = [];
afterAll(() => {
  for (const pid of started) if (alive(pid)) process.kill(pid, "SIGKILL");
  temp.remove();
});

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the node state file", () => {
  it("keeps the epoch, the incarnation and the answers across a reopen; an older epoch does not move it", () => {
    const dir = freshDir();
    const a = NodeStateStore.open(dir);
    expect([a.epoch, a.incarnation]).toEqual([0, 0]);
    expect(a.beginIncarnation()).toBe(1);
    a.recordEpoch(5);
    a.recordEpoch(3);
    a.remember("c1@4/1", { ok: true, detail: "done" });
    const b = NodeStateStore.open(dir);
    expect([b.epoch, b.incarnation]).toEqual([5, 1]);
    expect(b.answerTo("c1@4/1")).toEqual({ ok: true, detail: "done" });
    expect(b.answerTo("c1@5/1")).toBeUndefined();
    expect(b.beginIncarnation()).toBe(2);
  });

  it("keeps at most maxAnswers answers, and none older than the retention", () => {
    let now = 1_000;
    const dir = freshDir();
    const s = NodeStateStore.open(dir, { retentionMs: 500, maxAnswers: 3 }, () => now);
    for (let i = 1; i <= 5; i++) s.remember(`k${i}`, { ok: true, detail: String(i) });
    expect(s.answerCount()).toBe(3);
    expect(s.answerTo("k2")).toBeUndefined();
    expect(s.answerTo("k3")).toBeDefined();
    now += 400;
    s.remember("k6", { ok: false, detail: "6" });
    now += 200; // k3..k5 are 600 ms old now, k6 200 ms
    const reopened = NodeStateStore.open(dir, { retentionMs: 500, maxAnswers: 3 }, () => now);
    expect(reopened.answerCount()).toBe(1);
    expect(reopened.answerTo("k6")).toEqual({ ok: false, detail: "6" });
    // The file itself is bounded too, not only the memory.
    const onDisk = JSON.parse(readFileSync(join(dir, "node-state.json"), "utf8")) as { answers: unknown[] };
    expect(onDisk.answers.length).toBeLessThanOrEqual(3);
  });

  it("refuses to start on a damaged file rather than forget", () => {
    const dir = freshDir();
    NodeStateStore.open(dir).recordEpoch(2);
    const path = join(dir, "node-state.json");
    for (const damage of ["{", '{"version":1,"epoch":-1,"incarnation":0,"answers":[]}', "[]"]) {
      writeFileSync(path, damage);
      expect(() => NodeStateStore.open(dir), damage).toThrow(NodeStateError);
    }
  });
});

describe("the executor after a restart of the node service", () => {
  it("answers a command it carried out before without doing it again; applies a newer epoch only", async () => {
    const dir = freshDir();
    const reports: string[] = [];
    const make = () => {
      const supervisor = new ProcessSupervisor(
        [{ id: "p1", command: "sleep", args: ["600"] }],
        LocalDiagnosis.open({ policy: { budget: 0, windowMs: 1, baseDelayMs: 1, maxDelayMs: 1 }, logger }),
        {
          started: (id, i) => reports.push(`started ${id} ${i}`),
          restartedLocally: () => undefined,
          failed: () => undefined,
        },
        logger,
      );
      return {
        supervisor,
        executor: new CommandExecutor("n1", supervisor, NodeStateStore.open(dir), logger),
      };
    };
    const respawn = {
      id: "c7",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 9,
      issuedTerm: 2,
      respawnProcess: { processId: "p1", instance: 4, attempt: 1, command: "" },
    };
    const epoch = (e: number) => ({
      id: `e${e}`,
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 10,
      issuedTerm: 2,
      epochTransition: { epoch: e, pools: [] },
    });
    const first = make();
    const answer = await first.executor.execute(respawn);
    expect(answer.ok).toBe(true);
    expect((await first.executor.execute(epoch(3))).detail).toBe("epoch 3 applied by n1");
    await first.supervisor.stopAll();
    reports.length = 0;

    const second = make();
    expect(second.executor.epoch).toBe(3);
    const again = await second.executor.execute(respawn);
    expect(again).toEqual({ ok: true, detail: `${answer.detail} (already done)` });
    expect(second.supervisor.status("p1")!.state).toBe("idle");
    expect(reports).toEqual([]);
    // The same id from another issuing entry is another command: carried out.
    expect((await second.executor.execute({ ...respawn, issuedIndex: 11 })).ok).toBe(true);
    expect(second.supervisor.status("p1")!.state).toBe("running");
    expect((await second.executor.execute(epoch(2))).detail).toBe("epoch 3 already applied");
    await second.supervisor.stopAll();
  });
});

describe("the child registry", () => {
  const spawnSleep = () => {
    const child = spawn("sleep", ["600"], { stdio: "ignore", detached: true });
    started.push(child.pid!);
    child.unref();
    return child.pid!;
  };

  it("stops a former run's child, process group and all; clears its record", async () => {
    const dir = freshDir();
    const pid = spawnSleep();
    await until(() => procIdentity(pid)?.cmdline[0] === "sleep", "sleep to exec");
    const former = new ChildRegistry(dir, logger);
    expect(former.record("ios-1", 3, pid)).toBe(true);
    const next = new ChildRegistry(dir, logger);
    expect(await next.sweep()).toEqual([{ processId: "ios-1", pid, action: "stopped" }]);
    await until(() => !alive(pid), "the former child to end");
    expect(await next.sweep()).toEqual([]);
  });

  it("never kills a pid that now belongs to another process (other start time or command line)", async () => {
    const dir = freshDir();
    const pid = spawnSleep();
    await until(() => procIdentity(pid)?.cmdline[0] === "sleep", "sleep to exec");
    const reg = new ChildRegistry(dir, logger);
    reg.record("p", 1, pid);
    const path = join(dir, "children", "p.json");
    const rec = JSON.parse(readFileSync(path, "utf8")) as { startTicks: string; cmdline: string[] };
    // The same pid, started at another time: a reused pid.
    writeFileSync(path, JSON.stringify({ ...rec, startTicks: String(Number(rec.startTicks) + 1) }));
    expect((await new ChildRegistry(dir, logger).sweep())[0]!.action).toBe("pid-reused");
    reg.record("p", 1, pid);
    writeFileSync(path, JSON.stringify({ ...rec, cmdline: ["ios", "--other"] }));
    expect((await new ChildRegistry(dir, logger).sweep())[0]!.action).toBe("pid-reused");
    expect(alive(pid)).toBe(true);
    // A damaged record is dropped, not acted on.
    writeFileSync(path, "{");
    expect(await new ChildRegistry(dir, logger).sweep()).toEqual([
      { processId: "p", pid: 0, action: "unreadable" },
    ]);
    expect(alive(pid)).toBe(true);
    // A child that ended meanwhile: gone.
    reg.record("p", 1, pid);
    process.kill(pid, "SIGKILL");
    await until(() => !alive(pid), "the sleep to end");
    const swept = await new ChildRegistry(dir, logger).sweep();
    expect(["gone", "pid-reused"]).toContain(swept[0]!.action);
  });

  it("the supervisor records its running children and forgets those that ended", async () => {
    const dir = freshDir();
    const reg = new ChildRegistry(dir, logger);
    const supervisor = new ProcessSupervisor(
      [{ id: "p1", command: "sleep", args: ["600"] }],
      LocalDiagnosis.open({ policy: { budget: 0, windowMs: 1, baseDelayMs: 1, maxDelayMs: 1 }, logger }),
      { started: () => undefined, restartedLocally: () => undefined, failed: () => undefined },
      logger,
      reg,
    );
    expect((await supervisor.run("p1", 1, "start")).ok).toBe(true);
    const pid = supervisor.status("p1")!.pid!;
    started.push(pid);
    const rec = JSON.parse(readFileSync(join(dir, "children", "p1.json"), "utf8")) as { pid: number };
    expect(rec.pid).toBe(pid);
    await supervisor.stopAll();
    expect(alive(pid)).toBe(false);
    expect(await new ChildRegistry(dir, logger).sweep()).toEqual([]);
  });
});

describe("the run lock", () => {
  it("refuses a second node service while the holder runs; takes over from a dead or torn one", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const child = spawn("sleep", ["600"], { stdio: "ignore" });
    started.push(child.pid!);
    await until(() => procIdentity(child.pid!)?.cmdline[0] === "sleep", "sleep to exec");
    const holder = procIdentity(child.pid!)!;
    const lockFile = join(dir, "node.lock");
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: child.pid, bootId: holder.bootId, startTicks: holder.startTicks }),
    );
    expect(() => RunLock.acquire(dir)).toThrow(RunLockError);
    // The same pid with another start time is a reused pid: not a holder.
    writeFileSync(lockFile, JSON.stringify({ pid: child.pid, bootId: holder.bootId, startTicks: "1" }));
    RunLock.acquire(dir).release();
    writeFileSync(lockFile, "{");
    const lock = RunLock.acquire(dir);
    expect((JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number }).pid).toBe(process.pid);
    lock.release();
    writeFileSync(
      lockFile,
      JSON.stringify({ pid: child.pid, bootId: holder.bootId, startTicks: holder.startTicks }),
    );
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    RunLock.acquire(dir).release();
  });
});
