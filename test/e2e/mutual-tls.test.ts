// A cluster whose replicas talk mutual TLS, with certificates made by openssl:
// it elects, commits and answers the CLI; a client without a certificate is refused.
import { readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { ChannelCredentials, Metadata, status as grpcStatus, type ServiceError } from "@grpc/grpc-js";
import { HalonServiceClient } from "../../src/gen/halon/v1/client.js";
import { runCli } from "../helpers/run-cli.js";
import { hasOpenssl, makeCertificates } from "../raft/transport/tls-fixtures.js";
import { makeTempDir } from "../helpers/temp-dir.js";
import { Cluster } from "./cluster-harness.js";
import { countOf } from "./write-load.js";

const certDir = makeTempDir("halon-e2e-certs-");
let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.destroy();
  certDir.remove();
});

describe.runIf(hasOpenssl())("a cluster over mutual TLS", { timeout: 180_000 }, () => {
  it("elects, commits and converges; a client without a certificate is refused", async () => {
    const certs = makeCertificates(certDir.dir, ["replica"]);
    cluster = await Cluster.create({ tls: certs.replica! });
    cluster.startAll();
    await cluster.waitForLeader();
    for (let i = 0; i < 10; i++) await cluster.client().propose(Buffer.from(`tls${i}`));
    expect(countOf(await cluster.waitForConvergence(["rc1", "rc2", "rc3"]))).toBe(10);

    const status = runCli(["status", "--config", cluster.configFile, "--json"]);
    expect(
      JSON.parse(status.stdout).replicas.filter((r: { reachable: boolean }) => r.reachable),
    ).toHaveLength(3);

    // Server-authenticated only (trusts the CA, presents no certificate): refused by mutual TLS.
    const noCert = new HalonServiceClient(
      cluster.address("rc1"),
      ChannelCredentials.createSsl(readFileSync(certs.replica!.ca)),
    );
    try {
      const err = await new Promise<ServiceError | null>((resolve) =>
        noCert.getStatus({}, new Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)),
      );
      expect(err?.code).toBe(grpcStatus.UNAVAILABLE);
    } finally {
      noCert.close();
    }
  });
});
