// What `halon certs` issues, apart from the X.509 code so that reading the
// defaults does not load it.
export interface CertsOptions {
  /** Operators to issue certificates for (role operator: read, submit, operate). */
  operators: string[];
  /** Read-only clients (role reader). */
  readers: string[];
  /** Validity of leaf certificates, in days. */
  days: number;
  /** Replace existing leaf certificates (the CA is kept). */
  renew: boolean;
}

export const DEFAULT_CERTS_OPTIONS: CertsOptions = {
  operators: ["admin"],
  readers: ["viewer"],
  days: 365,
  renew: false,
};
