// The whole loop as a replica runs it, on virtual time: node services send
// heartbeats, the leader's failure detector proposes silences, the dispatch
// plan delivers the outbox, node services carry commands out and answer, and
// Ticks fire the rules' timers. Faults: a node dies and comes back (after it
// was declared down), a process fails, a client reports a striping error.
// In the end everything is online, every node has the current epoch and the
// outbox is empty.
import { describe, expect, it } from "vitest";
import type { Command, Event } from "../../src/gen/halon/v1/events.js";
import { DispatchPlan } from "../../src/rc/leader/dispatch-plan.js";
import { FailureDetector } from "../../src/rc/leader/failure-detector.js";
import { runningCluster, Scenario } from "./harness.js";

const HOSTS = 5;

class NodeServices {
  readonly alive = new Set<string>(Array.from({ length: HOSTS }, (_, i) => `node-${i}`));
  readonly epochs = new Map<string, number>();
  private seq = 0;

  /** What the node service (or the host's infrastructure endpoint) answers to a command. */
  execute(to: string, c: Command): Event[] {
    const nodeId = c.respawnNode ? c.respawnNode.nodeId : to;
    // A respawn-node command goes to the host's infrastructure, which fails while the node is dead.
    if (!this.alive.has(nodeId)) return [];
    const id = (): string => `ns${++this.seq}`;
    const answer: Event = {
      id: id(),
      source: nodeId,
      commandResult: { commandId: c.id, ok: true, detail: "", nodeId: c.target === "*" ? to : "" },
    };
    const out: Event[] = [answer];
    if (c.epochTransition) this.epochs.set(to, Math.max(this.epochs.get(to) ?? 0, c.epochTransition.epoch));
    if (c.respawnProcess)
      out.push({
        id: id(),
        source: nodeId,
        processStarted: { processId: c.respawnProcess.processId, instance: c.respawnProcess.instance },
      });
    for (const p of c.startProcesses?.processes ?? [])
      out.push({
        id: id(),
        source: nodeId,
        processStarted: { processId: p.processId, instance: p.instance },
      });
    return out;
  }
}

describe("the closed loop: detector, dispatcher, node services, ticks", () => {
  it("recovers from a dead node, a failed process and a striping error, and settles", () => {
    const s = new Scenario();
    runningCluster(s, { hosts: HOSTS, processesPerNode: 2, disksPerHost: 1, pools: 1 });
    const fd = new FailureDetector({ silentAfterMs: 3_000, graceAfterElectionMs: 2_000 });
    const plan = new DispatchPlan(2_000);
    const ns = new NodeServices();
    const start = s.time;
    fd.becameLeader(start);
    let seq = 0;
    let wasDown = false;
    for (let now = start + 250; now <= start + 240_000; now += 250) {
      const batch: Event[] = [];
      const t = now - start;
      // Faults and recoveries at fixed virtual times.
      if (t === 10_000) ns.alive.delete("node-2");
      if (t === 20_000)
        batch.push({
          id: `f${++seq}`,
          source: "node-0",
          processFailed: { processId: "proc-0-1", instance: 1, reason: "" },
        });
      if (t === 30_000)
        batch.push({
          id: `f${++seq}`,
          source: "client",
          stripingError: { poolId: "pool-0", diskId: "disk-4-0" },
        });
      if (s.attr("node-2", "state") === "down") wasDown = true;
      if (t === 150_000) {
        ns.alive.add("node-2");
        batch.push({
          id: `f${++seq}`,
          source: "node-2",
          nodeJoined: { nodeId: "node-2", hostId: "host-2", address: "", epoch: 0 },
        });
      }
      // Heartbeats reach the leader every second; one in five goes into the log.
      if (t % 1_000 === 0)
        for (const n of ns.alive) {
          fd.heard(n, now);
          if (t % 5_000 === 0)
            batch.push({
              id: `hb${++seq}`,
              source: n,
              nodeHeartbeat: { nodeId: n, epoch: ns.epochs.get(n) ?? 0 },
            });
        }
      for (const n of fd.silentNodes(now, s.sm.onlineNodes())) batch.push(fd.silentEvent(n));
      for (const d of plan.due(s.sm, now)) batch.push(...ns.execute(d.to, d.command));
      if (batch.length > 0) s.events(batch, now);
      else if (s.sm.tickDue(now)) s.tick(now);
    }
    expect(wasDown).toBe(true);
    for (let i = 0; i < HOSTS; i++) {
      expect(s.attr(`node-${i}`, "state"), `node-${i}`).toBe("online");
      expect(s.attr(`node-${i}`, "ackedEpoch"), `node-${i}`).toBe(s.sm.epoch);
      expect(ns.epochs.get(`node-${i}`), `node-${i}`).toBe(s.sm.epoch);
      for (let j = 0; j < 2; j++) expect(s.attr(`proc-${i}-${j}`, "state"), `proc-${i}-${j}`).toBe("online");
    }
    // Epochs: the striping error, node-2's disk leaving, and coming back.
    expect(s.sm.epoch).toBe(3);
    expect(s.attr("pool-0", "failureVector")).toEqual(["disk-4-0"]);
    expect(s.pending()).toEqual([]);
    expect(s.sm.engineIncidents().count).toBe(0);
  });
});
