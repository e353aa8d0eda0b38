// The dashboard of a real cluster (cluster-configs/local-3.yaml as processes),
// in headless Chromium (Debian's chromium, driven by playwright-core), with
// its /metrics scraped and parsed by a Prometheus text-format parser, and the
// history/explain CLI against the same cluster. Screenshots go to
// .tmp/artifacts/ as test artefacts.
import { mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import parsePrometheus, { type ParsedFamily } from "parse-prometheus-text-format";
import { chromium, type Browser, type Page } from "playwright-core";
import { until } from "../e2e/cluster-harness.js";
import { runCli } from "../helpers/run-cli.js";
import { ensureWebBundle, Local3Cluster } from "./local-3-cluster.js";

const CHROMIUM = "/usr/bin/chromium";

/** Runs in the page: records every state ios-2's box takes, however briefly (a respawn may be quick). */
const RECORD_STATES_OF_IOS_2 = `(() => {
  const seen = [];
  window.seen = seen;
  const watch = () => {
    const s = document.querySelector('[data-id="ios-2"]')?.getAttribute("data-state") ?? "";
    if (seen[seen.length - 1] !== s) seen.push(s);
  };
  new MutationObserver(watch).observe(document.body, { subtree: true, attributes: true, childList: true });
  watch();
})()`;
const ARTIFACTS = ".tmp/artifacts";

/** /metrics as Prometheus would scrape it, with a reader's certificate. */
async function scrape(cluster: Local3Cluster, url: string): Promise<Map<string, ParsedFamily>> {
  const res = await cluster.get(`${url}metrics`, cluster.identity("reader", "viewer"));
  expect(res.status).toBe(200);
  expect(res.type).toContain("text/plain");
  return new Map(parsePrometheus(res.body).map((f) => [f.name, f]));
}

function value(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name);
  if (!family) throw new Error(`no metric ${name}`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample)
    throw new Error(
      `no sample of ${name} with ${JSON.stringify(labels)}; there are ${JSON.stringify(family.metrics)}`,
    );
  return Number(sample.value ?? sample.count);
}

describe("the dashboard of the local-3 cluster", () => {
  let cluster: Local3Cluster;
  let browser: Browser;
  let leader = "";
  let follower = "";

  beforeAll(async () => {
    ensureWebBundle();
    mkdirSync(ARTIFACTS, { recursive: true });
    cluster = await Local3Cluster.start();
    leader = await cluster.waitForLeader();
    follower = cluster.config.replicas.map((r) => r.id).find((id) => id !== leader)!;
    // Every node joined and every process runs before the tests look.
    await until(async () => {
      const g = await cluster.client.getGraph();
      const states = g.graph!.resources.filter((r) => r.kind === "Process").map((r) => r.attributes.state);
      return states.length === 3 && states.every((s) => s === '"online"');
    }, "every process online");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await cluster?.stop();
  }, 60_000);

  /**
   * The page as an operator's browser opens it: with the reader certificate
   * `halon certs` issued (playwright presents it as a browser would one
   * imported by the user). The server's certificate is from the cluster's own
   * CA, which this headless browser does not trust: its errors are ignored.
   */
  async function open(replicaId: string): Promise<Page> {
    const url = cluster.dashboardUrl(replicaId);
    const reader = cluster.identity("reader", "viewer");
    const context = await browser.newContext({
      viewport: { width: 1400, height: 1000 },
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: new URL(url).origin, cert: reader.cert, key: reader.key }],
    });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('[data-id="ios-1"]', { timeout: 15_000 });
    expect(errors).toEqual([]);
    return page;
  }

  const stateOf = (page: Page, id: string) =>
    page.locator(`[data-id="${id}"]`).first().getAttribute("data-state");

  it("shows the cluster of local-3.yaml: racks, enclosures, hosts, nodes, processes, services, disks, pools, replicas", async () => {
    const page = await open(follower);
    for (const id of ["rack-a", "rack-b", "encl-a1", "encl-b1", "host1", "host2", "host3"])
      expect(await page.locator(`[data-id="${id}"]`).count(), id).toBe(1);
    // Nesting as the graph has it: host3 sits in rack-b's enclosure, its node runs ios-3.
    expect(
      await page
        .locator(
          '[data-id="rack-b"] [data-id="encl-b1"] [data-id="host3"] [data-id="node3"] [data-id="ios-3"]',
        )
        .count(),
    ).toBe(1);
    for (const n of cluster.config.nodes) {
      expect(await stateOf(page, n.id)).toBe("online");
      for (const p of n.processes) expect(await stateOf(page, p.name)).toBe("online");
    }
    for (const d of cluster.config.pools.flatMap((p) => p.disks))
      expect(await stateOf(page, d)).toBe("online");
    expect(await page.locator('[data-kind="Service"][data-id="ios"]').count()).toBe(3);
    for (const pool of cluster.config.pools)
      expect(await page.locator(`[data-pool="${pool.id}"] .epoch`).textContent()).toBe("0");
    // The replicas with role, term, indexes and lag; this page is served by a follower.
    await until(
      async () => (await page.locator("table.replicas tbody tr").count()) === 3,
      "three replica rows",
    );
    // Exactly one row says leader (on a loaded machine it may no longer be the first one found).
    await until(
      async () =>
        (await page.locator("table.replicas tbody tr td:nth-child(2)").allTextContents()).filter(
          (t) => t === "leader",
        ).length === 1,
      "one leader row",
    );
    expect(await page.locator("[data-self-role]").getAttribute("data-self-role")).toBe("follower");
    expect(await page.locator("[data-self-lag]").getAttribute("data-self-lag")).toMatch(/^\d+$/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-local-3.png`, fullPage: true });
    await page.close();
  });

  it("turns a killed process's box to the failed colour within seconds, and back once respawned", async () => {
    const page = await open(leader);
    // Every state the box takes, however briefly (the respawn may be quick).
    await page.evaluate(RECORD_STATES_OF_IOS_2);
    const before = cluster.processPid("node2");
    const killedAt = Date.now();
    process.kill(before, "SIGKILL");
    await page.waitForFunction('window.seen.includes("failed")', undefined, { timeout: 10_000 });
    const failedAfterMs = Date.now() - killedAt;
    if ((await stateOf(page, "ios-2")) === "failed")
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-process-failed.png`, fullPage: true });
    await page.waitForFunction(
      `document.querySelector('[data-id="ios-2"]')?.getAttribute("data-state") === "online"`,
      undefined,
      { timeout: 20_000 },
    );
    const seen = (await page.evaluate("window.seen")) as string[];
    expect(seen[0]).toBe("online");
    expect(seen).toContain("failed");
    expect(seen.at(-1)).toBe("online");
    expect(failedAfterMs).toBeLessThan(10_000);
    // A new OS process runs it now.
    expect(cluster.processPid("node2")).not.toBe(before);
    // Selecting it shows its attributes, and why it is online: the failure, the respawn, its start.
    await page.locator('[data-id="ios-2"] > .label').click();
    await page.waitForSelector('[data-detail="ios-2"] .summary');
    await until(
      async () =>
        /is "online" since entry \d+: event \S+ processStarted \[ios-2\]/.test(
          (await page.locator('[data-detail="ios-2"] .summary').textContent()) ?? "",
        ),
      "the explanation of ios-2",
      10_000,
    );
    const detail = (await page.locator('[data-detail="ios-2"]').textContent()) ?? "";
    expect(detail).toContain("processFailed [ios-2]");
    expect(detail).toMatch(/process-recovery\[ios-2\] \(none\) → respawning/);
    expect(detail).toMatch(/command c\d+ respawnProcess → node2/);
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-process-respawned.png`, fullPage: true });
    await page.close();

    // The same story from the CLI.
    const explain = runCli(["explain", "ios-2", "--config", cluster.configFile]);
    expect(explain.code, explain.stderr).toBe(0);
    expect(explain.stdout).toMatch(
      /^Process ios-2 is "online" since entry \d+: event \S+ processStarted \[ios-2\]/,
    );
    expect(explain.stdout).toMatch(
      /processFailed \[ios-2\] from node2: applied\n\s+rule process-reports\[ios-2\] ← process-failed\n(?:.*\n)*?\s+rules ← process-failed ios-2: process-recovery\[ios-2\] \(none\) → respawning/,
    );
    // One report per node action: the new instance's ProcessStarted reports the respawn; the
    // node's ok answer to the respawn command is not proposed as well (docs/rc.md).
    const respawn = /command (c\d+) respawnProcess → node2/.exec(detail)![1]!;
    const history = runCli(["history", "--resource", "ios-2", "--config", cluster.configFile, "--json"]);
    expect(history.code, history.stderr).toBe(0);
    const causes = (JSON.parse(history.stdout) as { entries: { cause: string }[] }).entries.map(
      (e) => e.cause,
    );
    expect(causes.some((c) => /processStarted \[ios-2\] from node2: applied/.test(c))).toBe(true);
    expect(causes.filter((c) => c.includes(`commandResult [${respawn},`))).toEqual([]);
    expect(causes.some((c) => /processFailed \[ios-2\] from node2: applied/.test(c))).toBe(true);
  });

  it("shows a striping error's new epoch and the pool's failure vector", async () => {
    const page = await open(follower);
    const res = await cluster.client.submitEvents([
      { id: "stripe-e2e", source: "operator", stripingError: { poolId: "pool-main", diskId: "disk-2a" } },
    ]);
    expect(res.results[0]!.outcome).toBe(1);
    await page.waitForFunction(
      `document.querySelector('[data-pool="pool-main"] .epoch')?.textContent === "1"`,
      undefined,
      {
        timeout: 10_000,
      },
    );
    expect(await page.locator('[data-pool="pool-main"] .vector').textContent()).toBe("disk-2a");
    expect(await page.locator("[data-cluster-epoch]").textContent()).toBe("1");
    expect(await page.locator('[data-pool="pool-meta"] .epoch').textContent()).toBe("0");
    expect(await stateOf(page, "disk-2a")).toBe("failed");
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-striping-error.png`, fullPage: true });
    await page.close();
  });

  it("serves Prometheus metrics on the leader and a follower, in the text format", async () => {
    // The delivery counters below are the first leader's; an election since (a loaded machine)
    // moves them, so the leader is checked to be the same one before and after the scrape.
    const stable = (await cluster.waitForLeader()) === leader;
    const lead = await scrape(cluster, cluster.dashboardUrl(leader));
    const follow = await scrape(cluster, cluster.dashboardUrl(follower));
    for (const m of [lead, follow]) {
      expect(value(m, "halon_raft_term")).toBeGreaterThanOrEqual(1);
      expect(value(m, "halon_raft_commit_index")).toBeGreaterThan(5);
      expect(value(m, "halon_raft_applied_index")).toBeGreaterThan(5);
      expect(m.get("halon_raft_log_append_seconds")?.type).toBe("HISTOGRAM");
      expect(value(m, "halon_raft_log_append_seconds")).toBeGreaterThan(0);
      expect(value(m, "halon_raft_log_fsync_seconds")).toBeGreaterThan(
        value(m, "halon_raft_log_append_seconds"),
      );
      expect(value(m, "halon_raft_leader_changes_total")).toBeGreaterThanOrEqual(1);
      // Every replica applies the same events: the striping error and the process failure.
      expect(value(m, "halon_rc_events_total", { kind: "stripingError", outcome: "applied" })).toBe(1);
      expect(value(m, "halon_rc_events_total", { kind: "processFailed", outcome: "applied" })).toBe(1);
      expect(
        value(m, "halon_rc_rules_fired_total", { rule: "process-recovery", intent: "respawn-process" }),
      ).toBe(1);
      expect(value(m, "halon_rc_nodes", { state: "online" })).toBe(3);
      expect(value(m, "halon_rc_epoch")).toBe(1);
      expect(value(m, "halon_rc_outbox_size")).toBeGreaterThanOrEqual(0);
      expect(value(m, "process_resident_memory_bytes")).toBeGreaterThan(10_000_000);
      expect(m.get("nodejs_eventloop_lag_seconds")?.type).toBe("GAUGE");
    }
    if (stable && (await cluster.waitForLeader()) === leader) {
      expect(value(lead, "halon_raft_is_leader")).toBe(1);
      expect(value(follow, "halon_raft_is_leader")).toBe(0);
      // Only the leader delivers commands: the respawn's answer was timed there.
      expect(value(lead, "halon_rc_command_answers_total", { kind: "respawnProcess", ok: "true" })).toBe(1);
      expect(value(lead, "halon_rc_command_delivery_seconds")).toBeGreaterThanOrEqual(1);
      const buckets = lead.get("halon_rc_command_delivery_seconds")!.metrics[0]!.buckets!;
      expect(Number(buckets["+Inf"])).toBe(value(lead, "halon_rc_command_delivery_seconds"));
      expect(value(follow, "halon_rc_command_delivery_seconds")).toBe(0);
    } else {
      // Leadership moved: the respawn's answer was still timed by some replica that led.
      const all = await Promise.all(
        cluster.config.replicas.map((r) => scrape(cluster, cluster.dashboardUrl(r.id))),
      );
      // A replica that never delivered has no sample of that label set: it counts 0.
      const answers = all.map((m) =>
        m
          .get("halon_rc_command_answers_total")
          ?.metrics.some((x) => x.labels?.kind === "respawnProcess" && x.labels.ok === "true")
          ? value(m, "halon_rc_command_answers_total", { kind: "respawnProcess", ok: "true" })
          : 0,
      );
      expect(answers.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
      expect(all.map((m) => value(m, "halon_raft_is_leader")).reduce((a, b) => a + b, 0)).toBe(1);
    }
    // gRPC calls by method and code: the node services' SubmitEvents reached the leader.
    expect(value(lead, "halon_grpc_requests_total", { method: "SubmitEvents", code: "OK" })).toBeGreaterThan(
      0,
    );
    // A call refused is counted with its code: Propose is closed on a coordinator replica
    // (UNIMPLEMENTED since issue 10; it was FAILED_PRECONDITION on a follower before).
    const before = await scrape(cluster, cluster.dashboardUrl(follower));
    const refusedBefore = before
      .get("halon_grpc_requests_total")
      ?.metrics.find((s) => s.labels?.method === "Propose" && s.labels.code === "UNIMPLEMENTED");
    const { ClusterClient } = await import("../../src/api/cluster-client.js");
    const direct = new ClusterClient({
      addresses: [cluster.config.replicas.find((r) => r.id === follower)!.grpcAddress],
      leaderTimeoutMs: 1,
      tls: cluster.identity("operator", "admin"),
    });
    await direct.propose(Buffer.from("x")).catch(() => undefined);
    direct.close();
    const after = await scrape(cluster, cluster.dashboardUrl(follower));
    expect(value(after, "halon_grpc_requests_total", { method: "Propose", code: "UNIMPLEMENTED" })).toBe(
      Number(refusedBefore?.value ?? 0) + 1,
    );
  });
});
