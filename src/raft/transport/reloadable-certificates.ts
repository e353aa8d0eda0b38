// Certificate files that can be rotated without a restart: re-read on reload()
// (a SIGHUP handler calls it) and when their modification time changes. A new
// set is used only when it is complete and consistent (the key matches the
// certificate, the CA signed it); otherwise the current one stays and the
// problem is reported. grpc-js asks a CertificateProvider for the material of
// every new connection, so connections opened after a reload use the new files.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { experimental } from "@grpc/grpc-js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface CertificateFiles {
  ca: string;
  cert: string;
  key: string;
}

export interface ReloadOptions {
  /** How often the files' modification times are compared; 0: only on reload(). */
  checkEveryMs?: number;
  /** A reload was refused (the old material stays). */
  onError?: (message: string) => void;
  /** New material is in use. */
  onReload?: () => void;
}

interface Material {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  stamp: string;
}

export class ReloadableCertificates implements experimental.CertificateProvider {
  private material: Material;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | null = null;

  /** Reads the files now; throws with a clear message when they are missing or do not fit together. */
  constructor(
    readonly files: CertificateFiles,
    private readonly options: ReloadOptions = {},
  ) {
    this.material = readMaterial(files);
    if (options.checkEveryMs && options.checkEveryMs > 0) {
      this.timer = setInterval(() => {
        if (stampOf(this.files) !== this.material.stamp) this.reload();
      }, options.checkEveryMs);
      this.timer.unref();
    }
  }

  /** The certificate currently served (PEM). */
  get cert(): Buffer {
    return this.material.cert;
  }

  get ca(): Buffer {
    return this.material.ca;
  }

  get key(): Buffer {
    return this.material.key;
  }

  /** Re-reads the files; true when new material is now in use. */
  reload(): boolean {
    let next: Material;
    try {
      next = readMaterial(this.files);
    } catch (err) {
      this.options.onError?.(`certificates not reloaded, the current ones stay: ${(err as Error).message}`);
      return false;
    }
    this.material = next;
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    this.options.onReload?.();
    return true;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  // The current material goes to a new listener on the next microtask, not
  // during the call: grpc-js adds its own watcher only after this returns, and
  // an update delivered before that is lost (the server would then drop every
  // connection as having no credentials).
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => {
      if (this.caListeners.has(listener)) listener({ caCertificate: this.material.ca });
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.identityListeners.has(listener))
        listener({ certificate: this.material.cert, privateKey: this.material.key });
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

function stampOf(files: CertificateFiles): string {
  return [files.ca, files.cert, files.key]
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.mtimeMs}:${s.size}`;
      } catch {
        return "missing";
      }
    })
    .join("|");
}

function readMaterial(files: CertificateFiles): Material {
  const stamp = stampOf(files);
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(
        `cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        { cause: err },
      );
    }
  };
  const ca = read("CA certificate", files.ca);
  const cert = read("certificate", files.cert);
  const key = read("private key", files.key);
  let leaf: X509Certificate;
  let authorities: X509Certificate[];
  try {
    leaf = new X509Certificate(cert);
    // During a CA rotation the CA file holds the old and the new CA.
    authorities = (ca.toString("utf8").match(PEM_CERT) ?? []).map((pem) => new X509Certificate(pem));
  } catch (err) {
    throw new Error(`${files.cert} or ${files.ca} is not a PEM certificate: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (authorities.length === 0) throw new Error(`${files.ca} holds no PEM certificate`);
  if (!leaf.checkPrivateKey(createPrivateKey(key)))
    throw new Error(`${files.key} is not the private key of ${files.cert}`);
  if (!authorities.some((a) => leaf.checkIssued(a) && leaf.verify(a.publicKey)))
    throw new Error(`${files.cert} is not signed by a CA in ${files.ca}`);
  return { ca, cert, key, stamp };
}
