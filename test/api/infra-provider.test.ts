// The infrastructure providers for RespawnNode, with real processes and a real
// gRPC server: an exec script that records its arguments and environment, a
// failing one, one that hangs past its timeout; the InfraService over mutual
// TLS (only replicas may call it, fenced by term, idempotent by command); the
// provider chosen per host, falling back to the cluster's default.
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createInfraProvider,
  infraProviderConfig,
  serveInfraService,
  type InfraServer,
} from "../../src/api/infra/index.js";
import { identityFiles } from "../../src/api/identity.js";
import { issueCertificates } from "../../src/cli/certificate-authority.js";
import { clusterConfigSchema, type ClusterConfig } from "../../src/config/index.js";
import type { RespawnNodeRequest } from "../../src/gen/halon/v1/infra.js";
import { createLogger } from "../../src/log/logger.js";
import { serverCredentials, type TlsMaterial } from "../../src/raft/transport/tls.js";
import { freePort } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const logger = createLogger({ name: "test", level: "silent" });
const temp = makeTempDir("halon-infra-");
afterAll(() => temp.remove());

function config(infrastructure: unknown, extra: Record<string, unknown> = {}): ClusterConfig {
  return clusterConfigSchema.parse({
    cluster: { name: "infra-test" },
    security: { certsDir: join(temp.dir, "certs") },
    replicas: [
      { id: "rc1", grpcAddress: "127.0.0.1:1", peerAddress: "127.0.0.1:2", dataDir: join(temp.dir, "rc1") },
    ],
    nodes: [
      { id: "node1", host: "host1", grpcAddress: "127.0.0.1:3" },
      { id: "node2", host: "host2", grpcAddress: "127.0.0.1:4" },
    ],
    infrastructure,
    ...extra,
  });
}

const request = (over: Partial<RespawnNodeRequest> = {}): RespawnNodeRequest => ({
  commandId: "c12",
  issuedIndex: 40,
  issuedTerm: 3,
  nodeId: "node1",
  hostId: "host1",
  leaderId: "rc1",
  leaderTerm: 3,
  attempt: 1,
  ...over,
});

/** A script that appends its arguments and two environment variables to `record`, then does `then`. */
function script(name: string, then: string): { path: string; record: string; runs: () => string[] } {
  const path = join(temp.dir, `${name}.sh`);
  const record = join(temp.dir, `${name}.record`);
  writeFileSync(path, `#!/bin/sh\necho "$* | $HALON_NODE $HALON_TERM" >> '${record}'\n${then}\n`);
  chmodSync(path, 0o755);
  return {
    path,
    record,
    runs: () => (existsSync(record) ? readFileSync(record, "utf8").trim().split("\n") : []),
  };
}

describe("provider exec", () => {
  it("runs the command with the host's and node's values; a repeat is not run again; an older term is fenced", async () => {
    const s = script("ok", 'echo "powered on $2"');
    const cfg = config({
      default: {
        provider: "exec",
        command: s.path,
        args: ["{host}", "{node}", "--term={term}", "{command}@{index}", "#{attempt}", "{unknown}"],
      },
    });
    const p = createInfraProvider(cfg, "host1");
    expect(p.describe).toBe(`exec ${s.path}`);
    expect(await p.respawnNode(request())).toEqual({ ok: true, detail: "powered on node1" });
    expect(s.runs()).toEqual(["host1 node1 --term=3 c12@40 #1 {unknown} | node1 3"]);
    // At least once delivery: the same command again is answered, not run.
    expect(await p.respawnNode(request())).toEqual({ ok: true, detail: "powered on node1 (already done)" });
    // A newer term's command runs; then the older term is fenced and nothing runs.
    expect((await p.respawnNode(request({ commandId: "c13", leaderTerm: 5, attempt: 2 }))).ok).toBe(true);
    const fenced = await p.respawnNode(request({ commandId: "c14", leaderTerm: 4 }));
    expect(fenced.ok).toBe(false);
    expect(fenced.detail).toContain("older than term 5");
    // A request for another host is not this provider's.
    expect((await p.respawnNode(request({ commandId: "c15", hostId: "host2", leaderTerm: 5 }))).ok).toBe(
      false,
    );
    expect(s.runs()).toHaveLength(2);
  });

  it("a failing command is a failed respawn with its exit code and stderr; a hung one is killed at the timeout", async () => {
    const bad = script("bad", 'echo "BMC unreachable" >&2; exit 3');
    const p = createInfraProvider(
      config({ default: { provider: "exec", command: bad.path, args: ["{node}"] } }),
      "host1",
    );
    const res = await p.respawnNode(request());
    expect(res).toEqual({ ok: false, detail: `${bad.path} exited with code 3: BMC unreachable` });
    // A failed attempt is remembered as failed: the coordinator's retry is a new command.
    expect((await p.respawnNode(request({ commandId: "c13" }))).ok).toBe(false);
    expect(bad.runs()).toHaveLength(2);

    const hung = script("hung", "sleep 600 & wait");
    const slow = createInfraProvider(
      config({ default: { provider: "exec", command: hung.path, args: [], timeoutMs: 300 } }),
      "host1",
    );
    const started = Date.now();
    const timedOut = await slow.respawnNode(request());
    expect(timedOut.ok).toBe(false);
    expect(timedOut.detail).toContain("timed out after 300 ms");
    expect(Date.now() - started).toBeLessThan(10_000);

    const missing = createInfraProvider(
      config({ default: { provider: "exec", command: join(temp.dir, "no-such-agent"), args: [] } }),
      "host1",
    );
    expect((await missing.respawnNode(request())).detail).toContain("cannot run");
  });

  it("picks the host's own provider, else the default; a host with neither gets a clear refusal", async () => {
    const a = script("a", "echo a");
    const b = script("b", "echo b");
    const both = config({
      default: { provider: "exec", command: a.path },
      hosts: { host2: { provider: "exec", command: b.path } },
    });
    expect(infraProviderConfig(both, "host1")).toMatchObject({ command: a.path });
    expect(await createInfraProvider(both, "host2").respawnNode(request({ hostId: "host2" }))).toEqual({
      ok: true,
      detail: "b",
    });
    const none = await createInfraProvider(config({}), "host1").respawnNode(request());
    expect(none.ok).toBe(false);
    expect(none.detail).toContain('no infrastructure provider for host "host1"');
    expect(() => config({ hosts: { host9: { provider: "exec", command: "x" } } })).toThrow(
      /no node runs on host .{1,2}host9/,
    );
    expect(() => config({ default: { provider: "ssh", command: "x" } })).toThrow();
  });
});

describe("provider grpc: InfraService over mutual TLS", () => {
  let server: InfraServer;
  let cfg: ClusterConfig;
  const asked: RespawnNodeRequest[] = [];
  const material = (role: "replica" | "node" | "infra", name: string): TlsMaterial => {
    const f = identityFiles(cfg, role, name);
    return { ca: readFileSync(f.ca), cert: readFileSync(f.cert), key: readFileSync(f.key) };
  };

  beforeAll(async () => {
    const address = `127.0.0.1:${await freePort()}`;
    cfg = config({ default: { provider: "grpc", address, name: "local", timeoutMs: 5_000 } });
    await issueCertificates(cfg);
    server = await serveInfraService({
      address,
      credentials: serverCredentials(material("infra", "local")),
      cluster: cfg.cluster.name,
      replicaIds: ["rc1"],
      logger,
      respawn: async (req) => {
        asked.push(req);
        await new Promise((r) => setTimeout(r, 50));
        return req.nodeId === "node2"
          ? { ok: false, detail: "host2 is powered off" }
          : { ok: true, detail: `restarted ${req.nodeId}` };
      },
    });
  }, 60_000);
  afterAll(() => server?.close());

  it("a replica's request is carried out once; a concurrent repeat waits for the same answer; an older term is refused", async () => {
    const p = createInfraProvider(cfg, "host1", { tls: material("replica", "rc1") });
    expect(p.describe).toMatch(/^grpc 127\.0\.0\.1:\d+$/);
    const [first, second] = await Promise.all([p.respawnNode(request()), p.respawnNode(request())]);
    expect(first).toEqual({ ok: true, detail: "restarted node1" });
    expect(second).toEqual({ ok: true, detail: "restarted node1 (already done)" });
    // The client side's own memory answers the repeat; the server would too: a fresh client.
    const other = createInfraProvider(cfg, "host1", { tls: material("replica", "rc1") });
    expect(await other.respawnNode(request())).toEqual({
      ok: true,
      detail: "restarted node1 (already done)",
    });
    expect(asked).toHaveLength(1);
    expect((await other.respawnNode(request({ commandId: "c20", leaderTerm: 7 }))).ok).toBe(true);
    // Fenced by the server, even for a client that never saw term 7.
    const fenced = await p.respawnNode(request({ commandId: "c21", leaderTerm: 6, issuedTerm: 6 }));
    expect(fenced.ok).toBe(false);
    expect(fenced.detail).toContain("older than term 7");
    const failed = await other.respawnNode(request({ commandId: "c22", leaderTerm: 7, nodeId: "node2" }));
    expect(failed).toEqual({ ok: false, detail: "host2 is powered off" });
    expect(asked.map((r) => r.commandId)).toEqual(["c12", "c20", "c22"]);
    p.close();
    other.close();
  });

  it("only the replicas may call it; a server without the infra certificate is not trusted", async () => {
    const asNode = createInfraProvider(cfg, "host1", { tls: material("node", "node1") });
    const denied = await asNode.respawnNode(request({ commandId: "c30", leaderTerm: 9 }));
    expect(denied.ok).toBe(false);
    expect(denied.detail).toContain("may not respawn nodes");
    asNode.close();
    // The client expects infra "other": the server's certificate names "local".
    const wrong = config({
      default: {
        provider: "grpc",
        address: cfg.infrastructure.default!.provider === "grpc" ? cfg.infrastructure.default!.address : "",
        name: "other",
        timeoutMs: 5_000,
      },
    });
    const suspicious = createInfraProvider(wrong, "host1", { tls: material("replica", "rc1") });
    const refused = await suspicious.respawnNode(request({ commandId: "c31", leaderTerm: 9 }));
    expect(refused.ok).toBe(false);
    suspicious.close();
    expect(asked.some((r) => r.commandId === "c30" || r.commandId === "c31")).toBe(false);
  });
});
