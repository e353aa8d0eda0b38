// The node service's parts in one process: the local restart rule, the
// supervisor with real `sleep` children, the command executor's idempotence
// and bad input, and the reporter's retries with the same event ids.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { SubmitEventsResponse } from "../../src/gen/halon/v1/client.js";
import { EventOutcome, type Event } from "../../src/gen/halon/v1/events.js";
import { createLogger } from "../../src/log/logger.js";
import { CommandExecutor } from "../../src/node/command-executor.js";
import { EventReporter } from "../../src/node/event-reporter.js";
import { ProcessSupervisor } from "../../src/node/process-supervisor.js";
import { LocalDiagnosis } from "../../src/node/local-diagnosis.js";
import { NodeStateStore } from "../../src/node/node-state-store.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const logger = createLogger({ name: "test", level: "silent" });

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the local restart rule (CEP crash-loop rule)", () => {
  it("restarts with growing backoff within the budget, then escalates; old restarts leave the window", () => {
    let now = 0;
    const d = LocalDiagnosis.open({
      policy: { budget: 2, windowMs: 1_000, baseDelayMs: 100, maxDelayMs: 150 },
      logger,
      now: () => now,
    });
    expect(d.onExit("p", "x")).toEqual({ restart: true, delayMs: 100 });
    now = 10;
    expect(d.onExit("p", "x")).toEqual({ restart: true, delayMs: 150 });
    now = 20;
    expect(d.onExit("p", "x")).toEqual({ restart: false, recent: 2 });
    expect(d.phaseOf("crash-loop", "p")).toBe("escalated");
    // Escalated: hands off (even once the window passed) until a command starts a run again.
    now = 1_005;
    expect(d.onExit("p", "x")).toEqual({ restart: false, recent: 0 });
    d.onCommandedStart("p");
    expect(d.phaseOf("crash-loop", "p")).toBe("watching");
    expect(d.onExit("p", "x")).toEqual({ restart: true, delayMs: 100 });
    // Other processes have budgets of their own.
    expect(d.onExit("q", "x")).toEqual({ restart: true, delayMs: 100 });
    const none = LocalDiagnosis.open({
      policy: { budget: 0, windowMs: 1, baseDelayMs: 1, maxDelayMs: 1 },
      logger,
    });
    expect(none.onExit("p", "x")).toEqual({ restart: false, recent: 0 });
  });
});

describe("the supervisor and the command executor", () => {
  const reports: string[] = [];
  const temp = makeTempDir("halon-node-parts-");
  afterAll(() => temp.remove());
  let stateDirs = 0;
  let supervisor: ProcessSupervisor;
  afterEach(async () => {
    await supervisor?.stopAll();
    reports.length = 0;
  });

  function make(budget: number): { supervisor: ProcessSupervisor; executor: CommandExecutor } {
    supervisor = new ProcessSupervisor(
      [
        { id: "p1", command: "sleep", args: ["600"] },
        { id: "bad", command: "/no/such/command", args: [] },
      ],
      LocalDiagnosis.open({ policy: { budget, windowMs: 60_000, baseDelayMs: 10, maxDelayMs: 10 }, logger }),
      {
        started: (id, i) => reports.push(`started ${id} ${i}`),
        restartedLocally: (id, i) => reports.push(`local-restart ${id} ${i}`),
        failed: (id, i) => reports.push(`failed ${id} ${i}`),
      },
      logger,
    );
    const state = NodeStateStore.open(`${temp.dir}/state-${++stateDirs}`);
    return { supervisor, executor: new CommandExecutor("n1", supervisor, state, logger) };
  }

  it("starts on command, restarts a killed child locally, reports failure beyond the budget, respawns", async () => {
    const { executor } = make(1);
    const start = {
      id: "c1",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      startProcesses: { nodeId: "n1", processes: [{ processId: "p1", instance: 1, command: "" }] },
    };
    expect((await executor.execute(start)).ok).toBe(true);
    const pid1 = supervisor.status("p1")!.pid!;
    expect(pid1).toBeGreaterThan(0);
    // The same command again: the same answer, nothing done.
    const again = await executor.execute(start);
    expect(again.ok).toBe(true);
    expect(again.detail).toContain("already done");
    expect(reports).toEqual(["started p1 1"]);

    process.kill(pid1, "SIGKILL");
    await until(() => reports.includes("local-restart p1 2"), "a local restart");
    const pid2 = supervisor.status("p1")!.pid!;
    expect(pid2).not.toBe(pid1);
    process.kill(pid2, "SIGKILL");
    await until(() => reports.includes("failed p1 2"), "the failure report");
    expect(supervisor.status("p1")!.state).toBe("failed");

    const respawn = {
      id: "c2",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      respawnProcess: { processId: "p1", instance: 3, attempt: 1, command: "" },
    };
    expect((await executor.execute(respawn)).ok).toBe(true);
    expect(supervisor.status("p1")).toMatchObject({ state: "running", instance: 3 });
    expect(reports.at(-1)).toBe("started p1 3");

    const stop = {
      id: "c3",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      stopProcesses: { nodeId: "n1", processIds: ["p1"] },
    };
    expect((await executor.execute(stop)).ok).toBe(true);
    expect(supervisor.status("p1")!.state).toBe("stopped");
  });

  it("acknowledges epochs once, refuses what it cannot do with a reason, never throws", async () => {
    const { executor } = make(0);
    const epoch = (id: string, e: number) => ({
      id,
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      epochTransition: { epoch: e, pools: [] },
    });
    expect(await executor.execute(epoch("e1", 2))).toMatchObject({
      ok: true,
      detail: "epoch 2 applied by n1",
    });
    expect((await executor.execute(epoch("e2", 1))).detail).toBe("epoch 2 already applied");
    expect(executor.epoch).toBe(2);
    const unknown = await executor.execute({
      id: "u1",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
    });
    expect(unknown).toMatchObject({ ok: false });
    expect(unknown.detail).toContain("unknown command u1");
    const node = await executor.execute({
      id: "r1",
      target: "h1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      respawnNode: { nodeId: "n1", hostId: "h1", infraEndpoint: "", attempt: 1 },
    });
    expect(node.ok).toBe(false);
    const missing = await executor.execute({
      id: "s1",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      startProcesses: { nodeId: "n1", processes: [{ processId: "nope", instance: 1, command: "" }] },
    });
    expect(missing).toMatchObject({ ok: false, detail: 'no process "nope" on this node' });
    const bad = await executor.execute({
      id: "s2",
      target: "n1",
      issuedAtMs: 0,
      issuedIndex: 5,
      issuedTerm: 1,
      respawnProcess: { processId: "bad", instance: 1, attempt: 1, command: "" },
    });
    expect(bad.ok).toBe(false);
    expect(bad.detail).toContain("cannot start");
    await until(() => reports.includes("failed bad 1"), "the failed start reported");
  });
});

describe("the reporter", () => {
  it("resends a failed batch with the same ids, in order, and coalesces heartbeats", async () => {
    const calls: string[][] = [];
    let failures = 2;
    const sink = {
      submitEvents(events: Event[]): Promise<SubmitEventsResponse> {
        calls.push(events.map((e) => e.id));
        if (failures-- > 0) return Promise.reject(new Error("no leader"));
        return Promise.resolve({
          index: 1,
          term: 1,
          results: events.map((e) => ({
            eventId: e.id,
            outcome: EventOutcome.EVENT_OUTCOME_APPLIED,
            code: "",
            reason: "",
          })),
          commands: [],
        });
      },
    };
    const reporter = new EventReporter({ nodeId: "n1", incarnation: "x", sink, logger, retryBaseMs: 5 });
    const joined = reporter.report("joined", {
      nodeJoined: { nodeId: "n1", hostId: "h1", address: "a:1", epoch: 0 },
    });
    reporter.heartbeat(0);
    reporter.heartbeat(0);
    await reporter.drain(10_000);
    reporter.stop();
    expect(joined).toBe("n1.x.1.joined");
    expect(calls[0]).toEqual(["n1.x.1.joined"]);
    expect(calls[1]).toEqual(["n1.x.1.joined", "n1.x.2.heartbeat"]);
    expect(calls.at(-1)).toEqual(calls[1]);
    expect(reporter.pending()).toBe(0);
  });
});
