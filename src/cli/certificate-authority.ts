// `halon certs`: a cluster CA and one certificate per party of the cluster,
// each naming its identity in a URI SAN (spiffe://<cluster>/<role>/<name>),
// with ECDSA P-256 keys made by Node's WebCrypto. Existing files are kept, so
// running it again only adds what is missing (a new replica, node or user);
// --renew replaces the leaf certificates (rotation), never the CA.
import "reflect-metadata"; // @peculiar/x509's dependency injection needs it, before the import below
import * as x509 from "@peculiar/x509";
import { randomBytes, webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { identityFiles, identityUri, type Identity } from "../api/identity.js";
import type { ClusterConfig } from "../config/index.js";
import { DEFAULT_CERTS_OPTIONS, type CertsOptions } from "./certs-options.js";

export { DEFAULT_CERTS_OPTIONS, type CertsOptions } from "./certs-options.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

// Node's WebCrypto is the standard one; the library's type is the DOM's Crypto.
x509.cryptoProvider.set(webcrypto as never);
const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY = 86_400_000;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

export interface IssuedFile {
  identity: string;
  cert: string;
  created: boolean;
}

/** Every identity the config needs, with the host names its servers answer on. */
export function identitiesOf(config: ClusterConfig, opts: CertsOptions): { id: Identity; hosts: string[] }[] {
  const cluster = config.cluster.name;
  const hostOf = (address: string) => address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return [
    ...config.replicas.map((r) => ({
      id: { cluster, role: "replica" as const, name: r.id },
      hosts: [hostOf(r.grpcAddress), hostOf(r.peerAddress)],
    })),
    ...config.nodes.map((n) => ({
      id: { cluster, role: "node" as const, name: n.id },
      hosts: [hostOf(n.grpcAddress)],
    })),
    ...infraServers(config).map(({ name, address }) => ({
      id: { cluster, role: "infra" as const, name },
      hosts: [hostOf(address)],
    })),
    ...opts.operators.map((name) => ({ id: { cluster, role: "operator" as const, name }, hosts: [] })),
    ...opts.readers.map((name) => ({ id: { cluster, role: "reader" as const, name }, hosts: [] })),
  ];
}

/** The InfraService servers the config names (provider grpc), one per name. */
function infraServers(config: ClusterConfig): { name: string; address: string }[] {
  const byName = new Map<string, string>();
  const { default: fallback, hosts } = config.infrastructure;
  for (const p of [fallback, ...Object.values(hosts)])
    if (p?.provider === "grpc" && !byName.has(p.name)) byName.set(p.name, p.address);
  return [...byName].map(([name, address]) => ({ name, address }));
}

/** Creates the CA (when missing) and every missing certificate; returns what it wrote or found. */
export async function issueCertificates(
  config: ClusterConfig,
  opts: CertsOptions = DEFAULT_CERTS_OPTIONS,
): Promise<IssuedFile[]> {
  const dir = config.security.certsDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await loadOrCreateCa(config);
  const out: IssuedFile[] = [];
  for (const { id, hosts } of identitiesOf(config, opts)) {
    const files = identityFiles(config, id.role, id.name);
    const uri = identityUri(id);
    if (existsSync(files.cert) && existsSync(files.key) && !opts.renew) {
      out.push({ identity: uri, cert: files.cert, created: false });
      continue;
    }
    const keys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${id.role} ${id.name}, O=halon ${id.cluster}`,
      issuer: ca.cert.subject,
      notBefore: new Date(Date.now() - 5 * 60_000), // some clock skew between hosts
      notAfter: new Date(Date.now() + opts.days * DAY),
      publicKey: keys.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([SERVER_AUTH, CLIENT_AUTH]),
        new x509.SubjectAlternativeNameExtension(sanOf(uri, hosts)),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      ],
    });
    // Key first, then certificate, each by rename: a process watching them never reads half a file.
    writeAtomically(files.key, await privateKeyPem(keys.privateKey), 0o600);
    writeAtomically(files.cert, cert.toString("pem") + "\n", 0o644);
    out.push({ identity: uri, cert: files.cert, created: true });
  }
  return out;
}

async function loadOrCreateCa(
  config: ClusterConfig,
): Promise<{ cert: x509.X509Certificate; key: CryptoKey }> {
  const dir = config.security.certsDir;
  const certFile = `${dir}/ca.pem`;
  const keyFile = `${dir}/ca-key.pem`;
  if (existsSync(certFile) && existsSync(keyFile)) {
    const pem = readFileSync(certFile, "utf8");
    // The first certificate is the current CA (a rotation may append the old one after it).
    const cert = new x509.X509Certificate(pem.slice(0, pem.indexOf("-----END CERTIFICATE-----") + 25));
    const der = x509.PemConverter.decodeFirst(readFileSync(keyFile, "utf8"));
    const key = await webcrypto.subtle.importKey("pkcs8", der, ALG, false, ["sign"]);
    return { cert, key: key as CryptoKey };
  }
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=halon CA ${config.cluster.name}, O=halon ${config.cluster.name}`,
    notBefore: new Date(Date.now() - 5 * 60_000),
    notAfter: new Date(Date.now() + 10 * 365 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  writeAtomically(keyFile, await privateKeyPem(keys.privateKey), 0o600);
  writeAtomically(certFile, cert.toString("pem") + "\n", 0o644);
  return { cert, key: keys.privateKey };
}

function sanOf(uri: string, hosts: string[]): x509.JsonGeneralName[] {
  const names: x509.JsonGeneralName[] = [{ type: "url", value: uri }];
  const all = new Set(hosts.length > 0 ? [...hosts, "127.0.0.1", "localhost"] : []);
  for (const h of all) names.push({ type: /^[\d.]+$|:/.test(h) ? "ip" : "dns", value: h });
  return names;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY") + "\n";
}

/** A positive 16-byte serial number, as hex. */
function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString("hex");
}

function writeAtomically(file: string, text: string, mode: number): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
