// `halon certs --config FILE`: creates the cluster's CA and a certificate for
// every replica, node service, operator and reader in the config's certsDir.
// Existing files are kept; --renew issues new leaf certificates (rotation).
import type { Command } from "commander";
import { relative } from "node:path";
import { DEFAULT_CERTS_OPTIONS } from "../certs-options.js";
import { loadConfigOrExit } from "../load-config-or-exit.js";

interface CertsCommandOptions {
  config: string;
  operator: string[];
  reader: string[];
  days: string;
  renew?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerCertsCommand(program: Command): void {
  program
    .command("certs")
    .description(
      "create the cluster CA and a certificate for each replica, node service, operator and reader (in security.certsDir)",
    )
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .option(
      "--operator <name>",
      "an operator to issue a certificate for (repeatable; default admin)",
      collect,
      [],
    )
    .option(
      "--reader <name>",
      "a read-only client to issue a certificate for (repeatable; default viewer)",
      collect,
      [],
    )
    .option("--days <n>", "validity of the certificates", String(DEFAULT_CERTS_OPTIONS.days))
    .option("--renew", "issue new certificates for every identity (rotation; the CA is kept)")
    .action(async (opts: CertsCommandOptions) => {
      const config = loadConfigOrExit(opts.config);
      const days = Number(opts.days);
      if (!Number.isSafeInteger(days) || days < 1) {
        console.error(`--days: "${opts.days}" is not a whole number of days`);
        process.exit(2);
      }
      // Loaded only here: the X.509 library would slow every other command's start.
      const { issueCertificates } = await import("../certificate-authority.js");
      const issued = await issueCertificates(config, {
        operators: opts.operator.length > 0 ? opts.operator : DEFAULT_CERTS_OPTIONS.operators,
        readers: opts.reader.length > 0 ? opts.reader : DEFAULT_CERTS_OPTIONS.readers,
        days,
        renew: opts.renew === true,
      });
      const dir = config.security.certsDir;
      console.log(
        `certificates of cluster "${config.cluster.name}" in ${relative(process.cwd(), dir) || dir}:`,
      );
      for (const f of issued)
        console.log(
          `  ${f.created ? "created" : "kept   "}  ${f.identity.padEnd(44)} ${relative(dir, f.cert)}`,
        );
      console.log(
        "Keep ca-key.pem off the hosts once every certificate is issued; give each host only its own files and ca.pem.",
      );
    });
}
