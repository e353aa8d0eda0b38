// Certificates for mutual-TLS tests, made with openssl in a temp directory:
// one CA, and one certificate per name valid for 127.0.0.1 and localhost.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch (_err) {
    return false;
  }
}

export interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** Writes ca.pem and NAME.pem / NAME-key.pem for each name; returns the paths. */
export function makeCertificates(dir: string, names: string[], caName = "ca"): Record<string, CertFiles> {
  const ca = join(dir, `${caName}.pem`);
  const caKey = join(dir, `${caName}-key.pem`);
  openssl(
    dir,
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "2"].concat([
      "-subj",
      `/CN=halon-test-${caName}`,
    ]),
  );
  const out: Record<string, CertFiles> = {};
  for (const name of names) {
    const key = join(dir, `${name}-key.pem`);
    const csr = join(dir, `${name}.csr`);
    const cert = join(dir, `${name}.pem`);
    const ext = join(dir, `${name}.ext`);
    writeFileSync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n");
    openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      csr,
      "-subj",
      `/CN=${name}`,
    ]);
    openssl(
      dir,
      ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert].concat([
        "-days",
        "2",
        "-extfile",
        ext,
      ]),
    );
    out[name] = { ca, cert, key };
  }
  return out;
}

export function readTls(files: CertFiles): { ca: Buffer; cert: Buffer; key: Buffer } {
  return { ca: readFileSync(files.ca), cert: readFileSync(files.cert), key: readFileSync(files.key) };
}
