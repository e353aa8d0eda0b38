// Rotation without downtime, over real gRPC: a server with ReloadableCertificates
// serves the renewed certificate to new connections after reload() (what SIGHUP
// calls) or after the file check notices the change, keeps serving the old
// connections, and keeps its material when the new files are broken.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PeerCertificate } from "node:tls";
import { Metadata, Server, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFiles } from "../../src/api/identity.js";
import { loadSecurity } from "../../src/api/security-setup.js";
import { DEFAULT_CERTS_OPTIONS, issueCertificates } from "../../src/cli/certificate-authority.js";
import { loadClusterConfig, type ClusterConfig } from "../../src/config/index.js";
import {
  RaftPeerServiceClient,
  RaftPeerServiceService,
  type RaftPeerServiceServer,
} from "../../src/gen/halon/v1/raft.js";
import type { ReloadableCertificates } from "../../src/raft/transport/reloadable-certificates.js";
import { channelCredentials, serverCredentials } from "../../src/raft/transport/tls.js";
import { freePort, until } from "../e2e/cluster-harness.js";
import { makeTempDir } from "../helpers/temp-dir.js";

const tmp = makeTempDir("halon-rotation-");
let config: ClusterConfig;
let serverCerts: ReloadableCertificates;
let clientCerts: ReloadableCertificates;
const server = new Server();
let address = "";
const errors: string[] = [];

const impl: RaftPeerServiceServer = {
  stream: (call, callback) => {
    call.on("data", () => undefined);
    call.on("end", () => callback(null, { received: 0 }));
  },
  installSnapshot: (_call, callback) => callback(null, { term: 0, accepted: false, error: "" }),
};

beforeAll(async () => {
  const port = await freePort();
  const file = join(tmp.dir, "cluster.yaml");
  writeFileSync(
    file,
    [
      "cluster: {name: rot}",
      "security: {certsDir: certs, reloadCheckMs: 100}",
      `replicas: [{id: rc1, grpcAddress: "127.0.0.1:${port}", peerAddress: "127.0.0.1:${await freePort()}", dataDir: d}]`,
    ].join("\n"),
  );
  config = loadClusterConfig(file);
  await issueCertificates(config);
  serverCerts = loadSecurity(config, "replica", "rc1", [], {
    insecure: false,
    onReloadError: (m) => errors.push(m),
  })!;
  clientCerts = loadSecurity(config, "operator", "admin", [], { insecure: false })!;
  server.addService(RaftPeerServiceService, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, serverCredentials(serverCerts), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  address = `127.0.0.1:${port}`;
});

afterAll(() => {
  server.forceShutdown();
  serverCerts.close();
  clientCerts.close();
  tmp.remove();
});

/** A new connection: the serial number of the certificate the server presented, and the client to call on. */
async function connect(): Promise<{ serial: string; client: RaftPeerServiceClient }> {
  let serial = "";
  const client = new RaftPeerServiceClient(
    address,
    channelCredentials(clientCerts, (_host: string, cert: PeerCertificate) => {
      serial = cert.serialNumber;
      return undefined;
    }),
    { "grpc.use_local_subchannel_pool": 1 },
  );
  await call(client);
  return { serial, client };
}

function call(client: RaftPeerServiceClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = client.stream(new Metadata(), { deadline: Date.now() + 5_000 }, (err: ServiceError | null) =>
      err ? reject(err) : resolve(),
    );
    s.end();
  });
}

describe("certificate rotation", { timeout: 60_000 }, () => {
  it("serves renewed certificates to new connections after a reload, and old connections keep working", async () => {
    const before = await connect();
    expect(before.serial).not.toBe("");
    await issueCertificates(config, { ...DEFAULT_CERTS_OPTIONS, renew: true });
    expect(serverCerts.reload()).toBe(true);
    clientCerts.reload();
    const after = await connect();
    expect(after.serial).not.toBe(before.serial);
    await call(before.client); // the connection opened before the rotation still serves
    before.client.close();
    after.client.close();
  });

  it("notices changed files by itself", async () => {
    const before = await connect();
    await issueCertificates(config, { ...DEFAULT_CERTS_OPTIONS, renew: true });
    await until(async () => {
      const c = await connect();
      c.client.close();
      return c.serial !== before.serial;
    }, "the renewed certificate to be served");
    before.client.close();
  });

  it("keeps its material when the new files are broken, and says why", async () => {
    const before = await connect();
    const files = identityFiles(config, "replica", "rc1");
    // A key that is not the certificate's: the operator copied the wrong file.
    writeFileSync(files.key, readFileSync(identityFiles(config, "operator", "admin").key));
    expect(serverCerts.reload()).toBe(false);
    expect(errors.at(-1)).toContain("is not the private key of");
    const still = await connect();
    expect(still.serial).toBe(before.serial);
    before.client.close();
    still.client.close();
  });
});
