// Test-only hooks cannot be reached from production: not from the `halon`
// binary's flags, not from the cluster config file, not from the environment.
// Tests and benchmarks reach them through src/cli/testing-main.ts only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/program.js";
import { ConfigError, parseClusterConfig } from "../../src/config/index.js";
import { runCli } from "../helpers/run-cli.js";

const rcFlags = (program: Command) =>
  program.commands.find((c) => c.name() === "rc")!.options.map((o) => o.long);

const minimal = () => ({
  cluster: { name: "t" },
  replicas: [{ id: "rc1", grpcAddress: "127.0.0.1:7101", peerAddress: "127.0.0.1:7301", dataDir: "d1" }],
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "gen" ? [] : sourceFiles(path);
    return path.endsWith(".ts") || path.endsWith(".tsx") ? [path] : [];
  });
}

describe("test-only hooks", () => {
  it("the halon binary has no --state-machine; only the test entry point adds it", () => {
    expect(rcFlags(buildProgram())).not.toContain("--state-machine");
    expect(rcFlags(buildProgram({ stateMachineOption: true }))).toContain("--state-machine");
    expect(readFileSync("src/cli/main.ts", "utf8")).toMatch(/buildProgram\(\)/);
  });

  it("`halon rc --state-machine hash-chain` is refused as an unknown option", () => {
    const res = runCli([
      "rc",
      "--config",
      "cluster-configs/local-3.yaml",
      "--id",
      "rc1",
      "--state-machine",
      "hash-chain",
    ]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/unknown option '--state-machine'/);
  });

  it("the config file cannot set the Raft core's planted bugs, or any field it does not know", () => {
    for (const raft of [
      { unsafe: { skipNoop: true } },
      { acknowledgeBeforePersist: true },
      { preVote: false },
    ]) {
      const bad = { ...minimal(), raft };
      expect(() => parseClusterConfig(bad, "c.yaml")).toThrow(ConfigError);
    }
    expect(() =>
      parseClusterConfig({ ...minimal(), testing: { stateMachine: "hash-chain" } }, "c.yaml"),
    ).toThrow(ConfigError);
  });

  it("the environment sets only how the log looks (HALON_LOG_LEVEL, HALON_LOG_FORMAT)", () => {
    const read = new Set<string>();
    for (const file of sourceFiles("src")) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\benv(?:\.|\[["'])([A-Z_][A-Z0-9_]*)/g)) read.add(m[1]!);
      // A computed lookup would hide what is read: none is allowed.
      expect(text, `${file} reads the environment by a computed name`).not.toMatch(/process\.env\[(?!["'])/);
    }
    expect([...read].sort()).toEqual(["HALON_LOG_FORMAT", "HALON_LOG_LEVEL"]);
  });
});
