import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadClusterConfig, parseClusterConfig } from "../../src/config/index.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const minimal = () => ({
  cluster: { name: "t" },
  replicas: [
    { id: "rc1", grpcAddress: "127.0.0.1:7101", peerAddress: "127.0.0.1:7301", dataDir: "d1" },
    { id: "rc2", grpcAddress: "127.0.0.1:7102", peerAddress: "127.0.0.1:7302", dataDir: "d2" },
    { id: "rc3", grpcAddress: "127.0.0.1:7103", peerAddress: "127.0.0.1:7303", dataDir: "d3" },
  ],
});

function problemsOf(data: unknown): string[] {
  try {
    parseClusterConfig(data, "x.yaml");
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected the config to be rejected");
}

describe("cluster config: good files", () => {
  it.each(["local-3.yaml", "local-5.yaml"])("parses cluster-configs/%s", (name) => {
    const cfg = loadClusterConfig(join("cluster-configs", name));
    expect(cfg.replicas.length).toBe(name === "local-3.yaml" ? 3 : 5);
    expect(cfg.raft.heartbeatMs).toBe(100);
    expect(cfg.nodes.length).toBeGreaterThan(0);
    for (const r of cfg.replicas) expect(r.dataDir.startsWith("/")).toBe(true);
  });

  it("fills defaults and resolves data directories against the file's directory", () => {
    const cfg = parseClusterConfig(minimal(), "/etc/halon/cluster.yaml");
    expect(cfg.raft).toMatchObject({ heartbeatMs: 100, electionTimeoutMs: 1000, maxInflightMessages: 64 });
    expect(cfg.replicas[0]?.dataDir).toBe("/etc/halon/d1");
    expect(cfg.replicas[0]?.learner).toBe(false);
    expect(cfg.nodes).toEqual([]);
    expect(cfg.recovery).toEqual({});
  });
});

describe("cluster config: each kind of bad file gives its precise error", () => {
  const tmp = makeTempDir();

  it("a missing file", () => {
    expect(() => loadClusterConfig(join(tmp.dir, "nope.yaml"))).toThrow(
      /nope\.yaml: invalid cluster config:\n {2}- file not found/,
    );
  });

  it("a YAML syntax error names the line", () => {
    const file = join(tmp.dir, "syntax.yaml");
    writeFileSync(file, "cluster:\n  name: t\nreplicas: [\n  {id: rc1\n");
    expect(() => loadClusterConfig(file)).toThrow(
      /syntax\.yaml: invalid cluster config:\n {2}- line \d+, column \d+: YAML syntax/,
    );
  });

  it("a duplicated YAML key", () => {
    const file = join(tmp.dir, "dupkey.yaml");
    writeFileSync(file, "cluster:\n  name: a\ncluster:\n  name: b\n");
    expect(() => loadClusterConfig(file)).toThrow(/line 3, column 1: YAML syntax: Map keys must be unique/);
  });

  it("a missing field", () => {
    const data = minimal() as Record<string, unknown>;
    delete data.replicas;
    expect(problemsOf(data)).toEqual(["replicas: expected array, but it is missing"]);
  });

  it("a field of the wrong type", () => {
    const data = { ...minimal(), raft: { heartbeatMs: "fast" } };
    expect(problemsOf(data)).toEqual(['raft.heartbeatMs: expected number, but got "fast"']);
  });

  it("an unknown field", () => {
    const data = minimal();
    (data.replicas[1] as Record<string, unknown>).dataDri = "x";
    expect(problemsOf(data)).toEqual(['replicas[1]: unknown field "dataDri"']);
  });

  it("a malformed address and an out-of-range port", () => {
    const data = minimal();
    data.replicas[0]!.grpcAddress = "localhost";
    data.replicas[1]!.grpcAddress = "127.0.0.1:70000";
    expect(problemsOf(data)).toEqual([
      "replicas[0].grpcAddress: an address of the form host:port",
      "replicas[1].grpcAddress: a port from 1 to 65535",
    ]);
  });

  it("a malformed id", () => {
    const data = minimal();
    data.replicas[2]!.id = "RC 3";
    expect(problemsOf(data)[0]).toMatch(/^replicas\[2\]\.id: an id of lower-case letters/);
  });

  it("duplicate ids, addresses and data directories", () => {
    const data = minimal();
    data.replicas[1]!.id = "rc1";
    data.replicas[2]!.grpcAddress = "127.0.0.1:7101";
    data.replicas[2]!.dataDir = "d1";
    expect(problemsOf(data)).toEqual([
      'replicas[1].id: id "rc1" is already used by replicas[0].id',
      'replicas[2].grpcAddress: address "127.0.0.1:7101" is already used by replicas[0].grpcAddress',
      'replicas[2].dataDir: dataDir "d1" is already used by replicas[0].dataDir',
    ]);
  });

  it("an election timeout shorter than two heartbeats", () => {
    const data = { ...minimal(), raft: { heartbeatMs: 600, electionTimeoutMs: 1000 } };
    expect(problemsOf(data)).toEqual([
      "raft.electionTimeoutMs: electionTimeoutMs must be at least twice heartbeatMs",
    ]);
  });

  it("liveness timings that do not fit the renewal interval", () => {
    const data = { ...minimal(), liveness: { heartbeatMs: 6_000 } };
    expect(problemsOf(data)).toEqual([
      "liveness.silentAfterMs: silentAfterMs must be at least 3 × heartbeatMs: one or two lost renewals must not make a node silent",
      "liveness.graceAfterElectionMs: graceAfterElectionMs must be at least 2 × heartbeatMs: every node renews with a new leader before it suspects any",
    ]);
    expect(parseClusterConfig({ ...minimal(), liveness: { heartbeatMs: 1_000 } }, "x.yaml").liveness).toEqual(
      {
        heartbeatMs: 1_000,
        silentAfterMs: 15_000,
        graceAfterElectionMs: 6_000,
      },
    );
  });

  it("a disk probe with both or neither of command and file; an infrastructure entry for an unknown host", () => {
    const node = { id: "n1", host: "h1", grpcAddress: "127.0.0.1:7201" };
    expect(
      problemsOf({ ...minimal(), nodes: [{ ...node, diskProbe: { command: "smart", file: "/x" } }] }),
    ).toEqual(["nodes[0].diskProbe: a disk probe has exactly one of command or file"]);
    expect(
      problemsOf({
        ...minimal(),
        nodes: [node],
        infrastructure: { hosts: { h2: { provider: "exec", command: "ipmi" } } },
      }),
    ).toEqual(['infrastructure.hosts.h2: no node runs on host "h2" (hosts: h1)']);
  });

  it("a node's listen address: a malformed one, or one another part already uses", () => {
    const node = { id: "n1", host: "h1", grpcAddress: "127.0.0.1:7201" };
    expect(problemsOf({ ...minimal(), nodes: [{ ...node, listenAddress: "7301" }] })).toEqual([
      "nodes[0].listenAddress: an address of the form host:port",
    ]);
    expect(
      problemsOf({ ...minimal(), nodes: [{ ...node, listenAddress: minimal().replicas[0]!.grpcAddress }] }),
    ).toEqual([
      `nodes[0].listenAddress: address "${minimal().replicas[0]!.grpcAddress}" is already used by replicas[0].grpcAddress`,
    ]);
    // Its own grpcAddress, said twice, is no conflict.
    const cfg = parseClusterConfig(
      { ...minimal(), nodes: [{ ...node, listenAddress: node.grpcAddress }] },
      "/etc/halon/cluster.yaml",
    );
    expect(cfg.nodes[0]!.listenAddress).toBe(node.grpcAddress);
  });

  it("a pool over a disk that no node has", () => {
    const data = {
      ...minimal(),
      nodes: [{ id: "n1", host: "h1", grpcAddress: "127.0.0.1:7201", disks: ["d-a"] }],
      pools: [{ id: "p", disks: ["d-a", "d-z"] }],
    };
    expect(problemsOf(data)).toEqual(['pools[0].disks[1]: disk "d-z" is not attached to any node']);
  });

  it("a recovery backoff whose ceiling is below its base, and an unknown recovery field", () => {
    const data = {
      ...minimal(),
      recovery: { processRespawnBackoff: { baseMs: 5000, factor: 2, maxMs: 100 }, respawnBudget: 3 },
    };
    expect(problemsOf(data)).toEqual([
      "recovery.processRespawnBackoff.maxMs: maxMs must be at least baseMs",
      'recovery: unknown field "respawnBudget"',
    ]);
  });

  it("more than seven replicas", () => {
    const data = minimal();
    data.replicas = Array.from({ length: 8 }, (_, i) => ({
      id: `rc${i}`,
      grpcAddress: `127.0.0.1:${7100 + i}`,
      peerAddress: `127.0.0.1:${7300 + i}`,
      dataDir: `d${i}`,
    }));
    expect(problemsOf(data)[0]).toMatch(/^replicas: /);
  });

  afterAll(() => tmp.remove());
});
