// Issue 10 on three real replica processes: the event that used to kill every
// replica for good (a ProcessFailed whose instance leaves no room for the
// respawn's instance + 1) is refused at the gate naming the field; the
// largest accepted instance goes through respawns driven by the timers, and
// every replica stays up with the same state hash. Raw entries cannot be
// written (Propose is closed), and a 100 KB id leaves the connection working.
import { status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GetGraphResponse } from "../../src/gen/halon/v1/client.js";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { encodeTick } from "../../src/rc/entry.js";
import { BOUNDS } from "../../src/rc/validate.js";
import { runCli } from "../helpers/run-cli.js";
import { Cluster, until } from "./cluster-harness.js";

const ALL = ["rc1", "rc2", "rc3"];

function attr(g: GetGraphResponse, id: string, key: string): unknown {
  const v = g.graph?.resources.find((r) => r.id === id)?.attributes[key];
  return v === undefined ? undefined : JSON.parse(v);
}

describe("a coordinator no input can poison, on 3 replica processes", { timeout: 180_000 }, () => {
  let cluster: Cluster;
  const client = () => cluster.client();

  beforeAll(async () => {
    cluster = await Cluster.create({
      stateMachine: "rc",
      rcArgs: ["--node-silent-ms", "600000"],
      extraConfig: [
        "recovery:",
        "  processRespawnBackoff: { baseMs: 200, factor: 2, maxMs: 500 }",
        "  processRespawnTimeoutMs: 500",
        "nodes:",
        "  - id: node1",
        "    host: host1",
        "    grpcAddress: 127.0.0.1:1",
        "    processes:",
        "      - name: ios-1",
        "        command: sleep",
        "      - name: ios-2",
        "        command: sleep",
      ].join("\n"),
    });
    cluster.startAll();
    await cluster.waitForLeader();
    await until(
      async () => (await client().getGraph()).graph!.resources.some((r) => r.id === "ios-1"),
      "the config's topology",
    );
  }, 90_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it("case 1: instance 2^53 - 1 is refused at the gate; the bound itself respawns with every replica up", async () => {
    const err = (await client()
      .submitEvents([
        {
          id: "poison",
          source: "node1",
          processFailed: { processId: "ios-1", instance: Number.MAX_SAFE_INTEGER, reason: "" },
        },
      ])
      .catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
    expect(err.details).toContain("events[0].process_failed.instance");

    const ok = await client().submitEvents([
      {
        id: "at-bound",
        source: "node1",
        processFailed: { processId: "ios-2", instance: BOUNDS.instance, reason: "" },
      },
    ]);
    expect(ok.results[0]!.outcome).toBe(EventOutcome.EVENT_OUTCOME_APPLIED);
    // The node is not online: the rule waits, then respawns on its timer at
    // instance + 1 (the step that used to kill the replicas), more than once.
    await until(async () => {
      const g = await client().getGraph("ios-2");
      return (attr(g, "ios-2", "instance") as number) >= BOUNDS.instance + 2;
    }, "respawns past the bound, driven by the timers");
    const hash = await cluster.waitForConvergence(ALL);
    expect(hash).not.toBe("");
    for (const id of ALL) expect(cluster.processes.get(id)!.exitCode).toBeNull();
  });

  it("`halon rules` shows the faults and switches a rule off and on through the log, on every replica", async () => {
    const shown = runCli(["rules", "--config", cluster.configFile]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("switched off: none");
    expect(shown.stdout).toContain("faults: 0");
    const off = runCli(["rules", "--config", cluster.configFile, "--disable", "node-recovery"]);
    expect(off.code).toBe(0);
    expect(off.stdout).toContain("switched off: node-recovery");
    await cluster.waitForConvergence(ALL);
    const on = runCli(["rules", "--config", cluster.configFile, "--enable-all"]);
    expect(on.stdout).toContain("switched off: none");
    const bad = runCli(["rules", "--config", cluster.configFile, "--disable", "nope"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr + bad.stdout).toContain("disabled_rules[0]");
  });

  it("case 2: no raw entry reaches the log of a coordinator replica", async () => {
    const forged = (await client()
      .propose(encodeTick(Date.now() + 3_600_000))
      .catch((e: unknown) => e)) as ServiceError;
    expect(forged.code).toBe(grpcStatus.UNIMPLEMENTED);
  });

  it("case 6: a 100 KB id is refused with a bounded message and the connection keeps working", async () => {
    const leader = await cluster.waitForLeader();
    const huge = "x".repeat(100 * 1024);
    for (const call of [() => client().getGraph(huge), () => client().addMember(huge)]) {
      const started = Date.now();
      const err = (await call().catch((e: unknown) => e)) as ServiceError;
      expect(err.code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect(err.details.length).toBeLessThanOrEqual(1024);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await client().status(cluster.address(leader))).id).toBe(leader);
    }
  });
});
