// The Raft defaults live in one table (NODE_DEFAULTS, built on CORE_DEFAULTS):
// a config file that says nothing about raft runs the library's defaults, and
// the library's default core settings are what the core resolves on its own.
import { describe, expect, it } from "vitest";
import { parseClusterConfig, raftNodeConfigOf } from "../../src/config/index.js";
import { CORE_DEFAULTS, resolveCoreConfig } from "../../src/raft/core/config.js";
import { NODE_DEFAULTS, coreConfigOf, resolveNodeConfig } from "../../src/raft/driver/node-config.js";

const minimal = {
  cluster: { name: "t" },
  replicas: [{ id: "rc1", grpcAddress: "127.0.0.1:7101", peerAddress: "127.0.0.1:7301", dataDir: "d1" }],
};

describe("Raft defaults", () => {
  it("a config file without a raft section runs exactly the library's defaults", () => {
    const raft = parseClusterConfig(minimal, "/etc/halon/c.yaml").raft;
    expect(resolveNodeConfig(raftNodeConfigOf(raft))).toEqual(NODE_DEFAULTS);
  });

  it("every field of the file's raft section reaches the driver", () => {
    const raft = parseClusterConfig(minimal, "/etc/halon/c.yaml").raft;
    const mapped = raftNodeConfigOf(raft);
    expect(Object.keys(mapped).length).toBe(Object.keys(raft).length);
    for (const v of Object.values(mapped)) expect(v).not.toBeUndefined();
  });

  it("the driver's defaults give the core its own defaults", () => {
    const core = resolveCoreConfig(coreConfigOf("a", NODE_DEFAULTS));
    const { id: _id, ...rest } = core;
    expect(rest).toEqual({ ...CORE_DEFAULTS, unsafe: undefined });
  });
});
