// `halon up --config FILE`: runs every replica of a cluster config on this
// machine until Ctrl-C, and says where to look.
import { relative } from "node:path";
import type { Command } from "commander";
import { identityFiles } from "../../api/identity.js";
import { SecuritySetupError } from "../../api/security-setup.js";
import { EXIT_CONFIG, loadConfigOrExit } from "../load-config-or-exit.js";
import { clientTls, DEFAULT_CLIENT_IDENTITY } from "../security-options.js";
import { LocalCluster } from "../local-cluster.js";
import { createLogger } from "../../log/logger.js";

/** A path relative to the working directory when it lies below it, absolute otherwise. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || rel === "" ? path : rel;
}

interface UpOptions {
  config: string;
  nodes: boolean;
  logDir?: string;
  timeout: string;
  insecure?: boolean;
}

export function registerUpCommand(program: Command): void {
  program
    .command("up")
    .description("run a whole cluster from a config file on this machine (until Ctrl-C)")
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .option("--log-dir <dir>", "where replica logs go (default: logs/ next to the data directories)")
    .option("--timeout <ms>", "how long to wait for a leader, and then for the nodes to be online", "30000")
    .option("--no-nodes", "start only the replicas, not the node services the config lists")
    .option("--insecure", "plain TCP without certificates (loopback addresses only)")
    .action(async (opts: UpOptions) => {
      const config = loadConfigOrExit(opts.config);
      let tls;
      try {
        if (!opts.insecure) {
          // First run: the CA and every certificate; later runs find them and keep them.
          const { issueCertificates } = await import("../certificate-authority.js");
          const made = (await issueCertificates(config)).filter((f) => f.created);
          if (made.length > 0)
            console.log(`Created ${made.length} certificates in ${shown(config.security.certsDir)}.`);
        }
        tls = clientTls(config, { identity: DEFAULT_CLIENT_IDENTITY, insecure: opts.insecure });
      } catch (err) {
        if (!(err instanceof SecuritySetupError)) throw err;
        console.error(err.message);
        process.exit(EXIT_CONFIG);
      }
      const cluster = new LocalCluster({
        configFile: opts.config,
        config,
        logDir: opts.logDir,
        withNodes: opts.nodes,
        insecure: opts.insecure === true,
        clientTls: tls,
        logger: createLogger({ name: "infra" }),
        onUnexpectedExit: (m, code, signal) =>
          console.error(
            `${m.kind} ${m.id} exited (${signal ?? `code ${code}`}); its log: ${shown(m.logFile)}` +
              (m.kind === "node" && cluster.infraServers.length > 0
                ? " (the coordinator respawns it through this InfraService)"
                : ""),
          ),
      });
      let stopping = false;
      const stop = async (why: string) => {
        if (stopping) return;
        stopping = true;
        console.log(`\n${why}: stopping the cluster (leadership is handed over first)...`);
        await cluster.stop();
        console.log("cluster stopped");
        process.exit(0);
      };
      process.on("SIGINT", () => void stop("SIGINT"));
      process.on("SIGTERM", () => void stop("SIGTERM"));
      // Rotation: every member re-reads its certificate files.
      process.on("SIGHUP", () => {
        tls?.reload();
        cluster.reloadCertificates();
      });

      cluster.start();
      try {
        for (const served of await cluster.serveInfrastructure())
          console.log(
            `Serving InfraService "${served.name}" on ${served.address}: node respawns restart node services here.`,
          );
      } catch (err) {
        console.error(`cannot serve the infrastructure provider: ${(err as Error).message}`);
        await stop("failure");
        return;
      }
      const cli = [...process.execArgv, shown(process.argv[1]!)].join(" ");
      const flag = opts.insecure ? " --insecure" : "";
      console.log(
        `Starting cluster "${config.cluster.name}": ${config.replicas.length} replicas, ${cluster.nodes.length} node services...`,
      );
      try {
        const leader = await cluster.waitForLeader(Number(opts.timeout));
        console.log(
          `Cluster "${config.cluster.name}" is up: leader ${leader.leaderId}, term ${leader.term}, ` +
            (opts.insecure
              ? "plain TCP (--insecure)."
              : `mutual TLS (certificates in ${shown(config.security.certsDir)}).`),
        );
      } catch (err) {
        console.error(`cluster did not come up: ${(err as Error).message}`);
        await stop("failure");
        return;
      }
      if (cluster.nodes.length > 0) {
        const missing = await cluster.waitForNodesOnline(Number(opts.timeout));
        if (missing.length === 0)
          console.log(`All ${cluster.nodes.length} node services joined and are online.`);
        else console.error(`Not online yet: ${missing.join(", ")} (see their logs).`);
      }
      for (const m of [...cluster.replicas, ...cluster.nodes]) {
        console.log(
          `  ${m.kind.padEnd(8)} ${m.id.padEnd(8)} gRPC ${m.grpcAddress.padEnd(21)} pid ${String(m.process.pid).padEnd(8)} log ${shown(m.logFile)}`,
        );
      }
      const pool = config.pools[0];
      const firstProcess = config.nodes.flatMap((n) => n.processes)[0]?.name;
      console.log(
        [
          "",
          "Look at it:",
          `  node ${cli} status --config ${opts.config}${flag}`,
          `  node ${cli} graph --config ${opts.config}${flag}`,
          `  node ${cli} watch --config ${opts.config}${flag}`,
          ...(pool
            ? [
                `  node ${cli} events submit --config ${opts.config}${flag} --json '{"stripingError":{"poolId":"${pool.id}","diskId":"${pool.disks[0]}"}}'`,
              ]
            : []),
          `  node ${cli} history --config ${opts.config}${flag}`,
          ...(firstProcess ? [`  node ${cli} explain ${firstProcess} --config ${opts.config}${flag}`] : []),
          `  node ${cli} transfer-leader --config ${opts.config}${flag}`,
          ...(opts.insecure ? [] : [`  node ${cli} graph --config ${opts.config} --identity reader/viewer`]),
          `  node ${cli} --help`,
          ...dashboardLines(
            config.replicas,
            opts.insecure ? null : shown(identityFiles(config, "reader", "viewer").cert),
          ),
          "Ctrl-C stops the cluster.",
        ].join("\n"),
      );
    });
}

/**
 * The dashboards (and their /metrics) of the replicas that have a
 * dashboardAddress: HTTPS with a reader's (or an operator's) certificate, or
 * plain HTTP with --insecure (`readerCert` null).
 */
function dashboardLines(
  replicas: { id: string; dashboardAddress?: string }[],
  readerCert: string | null,
): string[] {
  const with_ = replicas.filter((r) => r.dashboardAddress);
  if (with_.length === 0) return ["No replica has a dashboardAddress: no dashboard."];
  const scheme = readerCert === null ? "http" : "https";
  return [
    "",
    "Dashboard (live; /metrics for Prometheus on the same port):",
    ...with_.map((r) => `  ${r.id.padEnd(8)} ${scheme}://${r.dashboardAddress}/`),
    ...(readerCert === null
      ? []
      : [
          `  HTTPS with a reader or operator certificate (${readerCert} and its key; for a browser,`,
          "  import it as PKCS#12 and trust ca.pem: see docs/dashboard.md).",
        ]),
  ];
}
