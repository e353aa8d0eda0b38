import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/run-cli.js";
import { makeTempDir } from "../helpers/temp-dir.js";

describe("the halon command", () => {
  const tmp = makeTempDir();
  afterAll(() => tmp.remove());

  it("prints help and version", () => {
    const help = runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: halon/);
    expect(help.stdout).toMatch(/config/);
    const version = runCli(["--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("checks a good config file", () => {
    const res = runCli(["config", "check", "cluster-configs/local-3.yaml"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/cluster "local-3": 3 replicas, 3 node services, 2 pools/);
  });

  it("rejects a bad config file with exit code 2 and the field's name", () => {
    const file = join(tmp.dir, "bad.yaml");
    writeFileSync(file, "cluster: {name: x}\nreplicas:\n  - {id: rc1, grpcAddress: nowhere, dataDir: d}\n");
    const res = runCli(["config", "check", file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("bad.yaml: invalid cluster config:");
    expect(res.stderr).toContain("replicas[0].grpcAddress: an address of the form host:port");
  });

  it("rejects an unknown command", () => {
    const res = runCli(["frobnicate"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
