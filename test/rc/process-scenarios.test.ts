import { describe, expect, it } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { backoffDelay } from "../../src/rc/config.js";
import { outcomeOf, runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

function failure(processId: string, instance: number): Parameters<Scenario["event"]>[0] {
  return { processFailed: { processId, instance, reason: "exit 1" } };
}

describe("process failed", () => {
  it("a running cluster has every process online and its services up", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 2 });
    for (const pid of ["proc-0-0", "proc-0-1", "proc-1-0", "proc-1-1"]) {
      expect(s.attr(pid, "state")).toBe("online");
      expect(s.attr(pid, "instance")).toBe(1);
    }
    expect(s.attr("svc-1-1", "state")).toBe("up");
    expect(s.pending()).toEqual([]);
  });

  it("local restarts are only recorded", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const r = s.event({ processLocalRestart: { processId: "proc-0-0", instance: 2, reason: "crash" } });
    expect(outcomeOf(r)).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    expect(r.commands).toEqual([]);
    expect(s.attr("proc-0-0", "localRestarts")).toBe(1);
    expect(s.attr("proc-0-0", "instance")).toBe(2);
  });

  it("service restart after a failure: respawn, then online with its services up", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    s.time = 10_000;
    const r = s.event(failure("proc-0-0", 1));
    expect(r.commands).toHaveLength(1);
    const cmd = r.commands[0];
    expect(cmd?.target).toBe("node-0");
    expect(cmd?.respawnProcess).toEqual({
      processId: "proc-0-0",
      instance: 2,
      attempt: 1,
      command: "/usr/bin/svc-0",
    });
    expect(s.attr("proc-0-0", "state")).toBe("starting");
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBe("respawning");
    s.ack(cmd?.id as string);
    s.event({ processStarted: { processId: "proc-0-0", instance: 2 } });
    expect(s.attr("proc-0-0", "state")).toBe("online");
    expect(s.attr("svc-0-0", "state")).toBe("up");
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBeUndefined();
    expect(s.pending()).toEqual([]);
  });

  it("retries with backoff up to the budget, then the process is failed and its services down", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    s.time = 10_000;
    let instance = 1;
    let r = s.event(failure("proc-0-0", instance));
    const attempts: number[] = [r.commands[0]?.respawnProcess?.attempt ?? -1];
    for (let attempt = 1; attempt < TEST_CONFIG.processRespawnBudget; attempt++) {
      instance++;
      s.event(failure("proc-0-0", instance));
      const delay = backoffDelay(TEST_CONFIG.processRespawnBackoff, attempt);
      // Nothing before the backoff has passed, the next respawn exactly when it has.
      expect(s.tick(s.time + delay - 1).commands).toEqual([]);
      r = s.tick(s.time + 1);
      expect(r.commands).toHaveLength(1);
      expect(r.commands[0]?.respawnProcess?.instance).toBe(instance + 1);
      attempts.push(r.commands[0]?.respawnProcess?.attempt ?? -1);
    }
    expect(attempts).toEqual([1, 2, 3]);
    instance++;
    r = s.event(failure("proc-0-0", instance));
    expect(r.commands).toEqual([]);
    expect(s.attr("proc-0-0", "state")).toBe("failed");
    expect(s.attr("svc-0-0", "state")).toBe("down");
    expect(s.attr("proc-0-0", "respawns")).toBe(3);
    expect(s.pending()).toEqual([]);
    // Given up: later ticks issue nothing.
    expect(s.tickUntil(s.time + 60_000, 5_000)).toEqual([]);
  });

  it("a respawn with no answer counts as a failed attempt", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    s.event(failure("proc-0-0", 1));
    const later = s.tickUntil(
      s.time + TEST_CONFIG.processRespawnTimeoutMs + backoffDelay(TEST_CONFIG.processRespawnBackoff, 1),
    );
    expect(later.map((c) => c.respawnProcess?.attempt)).toEqual([2]);
  });

  it("a failed respawn command counts as a failed attempt", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    const first = s.event(failure("proc-0-0", 1)).commands[0];
    s.ack(first?.id as string, false);
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBe("backoff");
  });

  it("a stale failure (an instance already replaced) is ignored", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 1 });
    s.event(failure("proc-0-0", 1));
    s.event({ processStarted: { processId: "proc-0-0", instance: 2 } });
    const r = s.event(failure("proc-0-0", 1));
    expect(outcomeOf(r)).toBe(EventOutcome.EVENT_OUTCOME_IGNORED_STALE);
    expect(r.events[0]?.reason).toMatch(/replaced by 2/);
    expect(r.commands).toEqual([]);
    expect(s.attr("proc-0-0", "state")).toBe("online");
    // The same failure reported twice for the current instance is stale the second time.
    s.event(failure("proc-0-0", 2), s.time + 1);
    expect(outcomeOf(s.event(failure("proc-0-0", 2)))).toBe(EventOutcome.EVENT_OUTCOME_IGNORED_STALE);
  });

  it("keeps retrying a respawn on a dead node, without spending the budget, until it returns", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 2, processesPerNode: 1 });
    s.time = 1_000;
    s.event({ nodeSilent: { nodeId: "node-0" } });
    expect(s.attr("node-0", "state")).toBe("transient");
    const r = s.event(failure("proc-0-0", 1));
    expect(r.commands).toEqual([]);
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBe("waiting-node");
    const retries = s
      .tickUntil(s.time + 5 * TEST_CONFIG.processRespawnBackoff.maxMs, 1_000)
      .filter((c) => c.respawnProcess);
    expect(retries.length).toBe(5);
    expect(retries.every((c) => c.respawnProcess?.attempt === 0)).toBe(true);
    // Each retry supersedes the previous one: one pending respawn at a time.
    expect(s.pending().filter((c) => c.respawnProcess)).toHaveLength(1);
    const back = s.event({ nodeHeartbeat: { nodeId: "node-0", epoch: 0 } });
    const respawn = back.commands.find((c) => c.respawnProcess);
    expect(respawn?.respawnProcess?.attempt).toBe(1);
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBe("respawning");
    s.event({ processStarted: { processId: "proc-0-0", instance: respawn?.respawnProcess?.instance ?? 0 } });
    expect(s.attr("proc-0-0", "state")).toBe("online");
  });

  it("a process of a drained node is stopped and not recovered", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 1, processesPerNode: 2 });
    s.event(failure("proc-0-0", 1));
    const r = s.event({ nodeDrained: { nodeId: "node-0" } });
    expect(r.commands.map((c) => c.stopProcesses?.processIds)).toEqual([["proc-0-0", "proc-0-1"]]);
    expect(s.attr("proc-0-1", "state")).toBe("stopped");
    expect(s.sm.rulePhase("process-recovery", "proc-0-0")).toBeUndefined();
    expect(s.pending().filter((c) => c.respawnProcess)).toEqual([]);
    expect(outcomeOf(s.event({ nodeSilent: { nodeId: "node-0" } }))).toBe(
      EventOutcome.EVENT_OUTCOME_IGNORED_STALE,
    );
  });
});
