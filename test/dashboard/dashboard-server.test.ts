// The dashboard server in process, next to a real one-replica coordinator
// (LevelDB, gRPC): the live stream sends the whole picture and then each
// applied entry's changes, a resource's detail explains it, an unknown one is
// 404, and with `tls` it serves HTTPS only to clients with a reader's or an
// operator's certificate from the cluster's CA. The replica itself runs
// --insecure (loopback): the TLS case needs only the dashboard's own listener.
import { request as httpsRequest } from "node:https";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFiles } from "../../src/api/identity.js";
import { Replica } from "../../src/api/replica.js";
import { issueCertificates } from "../../src/cli/certificate-authority.js";
import { clusterConfigSchema } from "../../src/config/index.js";
import { DashboardServer, ReplicaMetrics } from "../../src/dashboard/index.js";
import { createLogger } from "../../src/log/logger.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { ensureWebBundle } from "./local-3-cluster.js";

const logger = createLogger({ name: "dash", level: "silent", pretty: false });

/** Reads server-sent events from a response body: [event, data] pairs as they arrive. */
async function* sse(body: ReadableStream<Uint8Array>): AsyncGenerator<[string, unknown]> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? "null";
      yield [event, JSON.parse(data)];
    }
  }
}

describe("the dashboard server", () => {
  const tmp = makeTempDir("halon-dash-");
  let replica: Replica;
  let dashboard: DashboardServer;
  let url = "";

  beforeAll(async () => {
    ensureWebBundle();
    const config = clusterConfigSchema.parse({
      cluster: { name: "dash" },
      replicas: [
        {
          id: "rc1",
          grpcAddress: `127.0.0.1:${await freePort()}`,
          peerAddress: `127.0.0.1:${await freePort()}`,
          dataDir: join(tmp.dir, "rc1"),
        },
      ],
      nodes: [{ id: "n1", host: "h1", grpcAddress: "127.0.0.1:1", disks: ["d1", "d2"] }],
      pools: [{ id: "pool", disks: ["d1", "d2"] }],
    });
    const metrics = new ReplicaMetrics();
    replica = await Replica.start({
      config,
      id: "rc1",
      logger,
      instruments: metrics,
      rcDuties: { nodeSilentMs: 600_000 },
      insecure: true,
    });
    metrics.attach({ status: () => replica.status(), machine: () => replica.coordinator?.machine ?? null });
    dashboard = new DashboardServer({ address: "127.0.0.1:0", replica, metrics, logger, statusEveryMs: 200 });
    url = `http://127.0.0.1:${await dashboard.start()}`;
    // The leader declares the config's topology by itself.
    await until(() => replica.coordinator!.machine.graph.has("pool"), "the topology");
  }, 60_000);

  afterAll(async () => {
    await dashboard?.stop();
    await replica?.stop();
    tmp.remove();
  });

  it("serves the page and its bundle from this build, nothing from outside", async () => {
    const page = await (await fetch(`${url}/`)).text();
    expect(page).toContain('<script type="module" src="/app.js"></script>');
    expect(page).not.toMatch(/https?:\/\//);
    const js = await fetch(`${url}/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect(await js.text()).toContain("/api/events");
  });

  it("streams the whole picture, then the changes of each applied entry, then the activity", async () => {
    const abort = new AbortController();
    const res = await fetch(`${url}/api/events`, { signal: abort.signal });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events = sse(res.body!);
    const [first, picture] = (await events.next()).value as [
      string,
      { cluster: string; graph: { resources: { id: string }[] } },
    ];
    expect(first).toBe("picture");
    expect(picture.cluster).toBe("dash");
    expect(picture.graph.resources.map((r) => r.id)).toContain("d1");
    void fetch(`${url}/`); // no effect on the stream
    const submitted = replica.propose(
      (await import("../../src/rc/index.js")).encodeEventBatch(Date.now(), [
        { id: "s1", source: "t", stripingError: { poolId: "pool", diskId: "d1" } },
      ]),
    );
    let sawChange = false;
    let sawActivity = false;
    let sawStatus = false;
    for await (const [event, data] of events) {
      if (event === "changes") {
        const u = data as { changes: { id: string; key: string; valueJson: string }[] };
        if (u.changes.some((c) => c.id === "d1" && c.key === "state" && c.valueJson === '"failed"'))
          sawChange = true;
      }
      if (
        event === "activity" &&
        (data as { cause: string }[]).some((e) => e.cause.startsWith("event s1 stripingError"))
      )
        sawActivity = true;
      if (event === "status") {
        const s = data as { self: { id: string; role: string; lag: number }; replicas: unknown[] };
        expect(s.self).toMatchObject({ id: "rc1", role: "leader", lag: 0 });
        expect(s.replicas).toHaveLength(1);
        sawStatus = true;
      }
      if (sawChange && sawActivity && sawStatus) break;
    }
    await submitted;
    abort.abort();
    expect([sawChange, sawActivity, sawStatus]).toEqual([true, true, true]);
  });

  it("answers one resource with its explanation, and 404 for an unknown one", async () => {
    const detail = (await (await fetch(`${url}/api/resource/d1`)).json()) as {
      explain: { summary: string };
      history: { entries: { cause: string }[] };
    };
    expect(detail.explain.summary).toMatch(/^Disk d1 is "failed" since entry \d+: event s1 stripingError/);
    expect(detail.history.entries.map((e) => e.cause)).toContain(
      "event s1 stripingError [d1, pool] from t: applied",
    );
    const missing = await fetch(`${url}/api/resource/nope`);
    expect(missing.status).toBe(404);
  });

  describe("with tls", () => {
    it("serves HTTPS to a reader's or an operator's certificate from the CA; not to a node's, nor without one", async () => {
      const config = {
        ...replica.clusterConfig,
        security: { ...replica.clusterConfig.security, certsDir: join(tmp.dir, "certs") },
      };
      await issueCertificates(config);
      const files = (role: "replica" | "reader" | "operator" | "node", name: string) => {
        const f = identityFiles(config, role, name);
        return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
      };
      const tls = files("replica", "rc1");
      const metrics = new ReplicaMetrics();
      const secure = new DashboardServer({ address: "127.0.0.1:0", replica, metrics, logger, tls });
      const port = await secure.start();
      const get = (client?: { cert: Buffer; key: Buffer }) =>
        new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            { host: "127.0.0.1", port, path: "/metrics", ca: tls.ca, ...(client ?? {}) },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on("error", reject);
          req.end();
        });
      try {
        expect(await get(files("reader", "viewer"))).toBe(200);
        expect(await get(files("operator", "admin"))).toBe(200);
        // From the CA, but a node service's (or a replica's) identity does not open the dashboard.
        expect(await get(files("node", "n1"))).toBe(403);
        expect(await get(files("replica", "rc1"))).toBe(403);
        await expect(get()).rejects.toThrow();
        // Plain HTTP gets nothing either.
        await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
      } finally {
        await secure.stop();
      }
    });
  });
});
