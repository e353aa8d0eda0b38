// The whole loop as a replica runs it, on virtual time (the coordinator
// simulator, test/sim-rc): three replicas with the real leader loop, node
// services that send heartbeats and carry commands out, the failure detector
// proposing silences, deliveries on apply, Ticks firing the rules' timers.
// Faults: a node dies and its host cannot respawn it (it is declared down),
// a process fails, a client reports a striping error; then the node comes
// back. In the end everything is online, every node has the current epoch
// and the outbox is empty.
import { describe, expect, it } from "vitest";
import { RcWorld } from "../sim-rc/rc-world.js";
import { settled } from "../sim-rc/run-seed.js";

const HOSTS = 5;

describe("the closed loop: the real leader loop, node services, ticks", () => {
  it(
    "recovers from a dead node, a failed process and a striping error, and settles",
    { timeout: 180_000 },
    async () => {
      const w = new RcWorld({ seed: 1, replicas: 3, nodes: HOSTS, processesPerNode: 2, disksPerNode: 1 });
      try {
        await w.start();
        expect(await w.runUntil(() => settled(w), 30_000), "the cluster settles after start").toBe(true);
        const sm = () => w.leader()!.machine;
        const node2 = w.nodes.get("node-2")!;
        node2.die();
        w.hostsDown.add("host-2");
        await w.runFor(10_000);
        expect(sm().graph.attr("node-2", "state")).not.toBe("online");
        expect(w.nodes.get("node-0")!.failProcess("proc-0-1")).toBe(true);
        await w.runFor(10_000);
        const leader = w.leader()!;
        const stripe = {
          id: "client-stripe",
          source: "client",
          stripingError: { poolId: "pool-0", diskId: "disk-4-0" },
        };
        // Acknowledged once applied, which takes the simulation running.
        let stripeTerm: number | null | undefined;
        w.proposeEvents(leader.node, [stripe]).then(
          (t) => (stripeTerm = t),
          () => (stripeTerm = null),
        );
        expect(await w.runUntil(() => stripeTerm !== undefined, 10_000)).toBe(true);
        expect(stripeTerm).toBeGreaterThan(0);
        // The node-recovery rule spends its respawn budget on a host that does not come up.
        expect(
          await w.runUntil(() => sm().graph.attr("node-2", "state") === "down", 300_000),
          "node-2 down",
        ).toBe(true);
        expect(
          sm()
            .pendingCommands()
            .filter((c) => c.respawnNode),
        ).toEqual([]);
        // node-2 comes back by itself: it joins, and gets its processes and the current epoch.
        w.hostsDown.delete("host-2");
        node2.start();
        // Settled, and the processes' own ProcessStarted reports (they come after the answers) applied.
        const allOnline = () =>
          sm()
            .graph.byKind("Process")
            .every((p) => sm().graph.attr(p, "state") === "online");
        expect(await w.runUntil(() => settled(w) && allOnline(), 120_000), "the cluster settles again").toBe(
          true,
        );
        const m = sm();
        for (let i = 0; i < HOSTS; i++) {
          expect(m.graph.attr(`node-${i}`, "state"), `node-${i}`).toBe("online");
          expect(m.graph.attr(`node-${i}`, "ackedEpoch"), `node-${i}`).toBe(m.epoch);
          expect(w.nodes.get(`node-${i}`)!.epoch, `node-${i}`).toBe(m.epoch);
          for (let j = 0; j < 2; j++) {
            expect(m.graph.attr(`proc-${i}-${j}`, "state"), `proc-${i}-${j}`).toBe("online");
            expect(w.nodes.get(`node-${i}`)!.supervisor.processes.get(`proc-${i}-${j}`)?.state).toBe(
              "running",
            );
          }
        }
        // Epochs: the striping error, node-2's disk leaving, and coming back.
        expect(m.epoch).toBe(3);
        expect(m.graph.attr("pool-0", "failureVector")).toEqual(["disk-4-0"]);
        expect(m.pendingCommands()).toEqual([]);
        expect(m.engineIncidents().count).toBe(0);
        expect(w.sim.violations).toEqual([]);
      } finally {
        w.sim.stopAll();
      }
    },
  );
});
