// Plain TCP only when asked, and only on loopback; certificates that are
// missing are named, with the command that makes them.
import { describe, expect, it } from "vitest";
import {
  assertInsecureAllowed,
  isLoopback,
  loadSecurity,
  SecuritySetupError,
} from "../../src/api/security-setup.js";
import { parseIdentityUri, spiffeUris } from "../../src/api/identity.js";
import { Replica } from "../../src/api/replica.js";
import { createLogger } from "../../src/log/logger.js";
import { clusterConfigSchema } from "../../src/config/index.js";

const config = clusterConfigSchema.parse({
  cluster: { name: "s" },
  security: { certsDir: "/nonexistent/certs" },
  replicas: [{ id: "rc1", grpcAddress: "10.0.0.5:7101", peerAddress: "10.0.0.5:7301", dataDir: "d" }],
});

describe("security setup", () => {
  it("knows loopback addresses", () => {
    for (const a of ["127.0.0.1:1", "127.3.4.5:80", "localhost:7", "[::1]:9"])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ["10.0.0.5:1", "0.0.0.0:80", "[::]:9", "example.com:7", "128.0.0.1:1"])
      expect(isLoopback(a), a).toBe(false);
  });

  it("refuses --insecure on a non-loopback address, naming it", () => {
    expect(() => assertInsecureAllowed(["127.0.0.1:1", "0.0.0.0:7101"])).toThrow(
      /only allowed on loopback.*0\.0\.0\.0:7101/,
    );
    expect(() => loadSecurity(config, "replica", "rc1", ["10.0.0.5:7101"], { insecure: true })).toThrow(
      SecuritySetupError,
    );
    expect(loadSecurity(config, "replica", "rc1", ["127.0.0.1:7101"], { insecure: true })).toBeUndefined();
  });

  it("a replica on a non-loopback address will not start with --insecure, nor without certificates", async () => {
    const logger = createLogger({ name: "rc1", level: "silent" });
    await expect(Replica.start({ config, id: "rc1", logger, insecure: true })).rejects.toThrow(
      /only allowed on loopback addresses, not on 10\.0\.0\.5:7101, 10\.0\.0\.5:7301/,
    );
    await expect(Replica.start({ config, id: "rc1", logger })).rejects.toThrow(SecuritySetupError);
  });

  it("without --insecure, missing certificates are an error that says how to make them", () => {
    expect(() => loadSecurity(config, "replica", "rc1", ["127.0.0.1:7101"], { insecure: false })).toThrow(
      /no usable certificate for replica "rc1".*halon certs --config/,
    );
  });

  it("reads identities from URI SANs, and nothing else", () => {
    expect(spiffeUris("DNS:localhost, URI:spiffe://c/node/n1, IP Address:127.0.0.1")).toEqual([
      "spiffe://c/node/n1",
    ]);
    expect(parseIdentityUri("spiffe://c/node/n1")).toEqual({ cluster: "c", role: "node", name: "n1" });
    for (const bad of [
      "spiffe://c/admin/x",
      "spiffe://c/node/",
      "spiffe://c/node/a/b",
      "http://c/node/n1",
      "spiffe://C D/node/n",
    ])
      expect(parseIdentityUri(bad), bad).toBeNull();
  });
});
