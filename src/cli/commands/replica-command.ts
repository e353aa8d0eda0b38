// `halon rc --config FILE --id ID`: runs one coordinator replica until SIGTERM
// or SIGINT, then hands leadership over and stops cleanly.
import type { Command } from "commander";
import { Replica } from "../../api/replica.js";
import { SecuritySetupError } from "../../api/security-setup.js";
import { DashboardServer, ReplicaMetrics } from "../../dashboard/index.js";
import { loadClusterConfig } from "../../config/index.js";
import { createLogger } from "../../log/logger.js";
import { StorageCorruptionError } from "../../raft/storage.js";
import { EXIT_CONFIG, loadConfigOrExit } from "../load-config-or-exit.js";

interface RcOptions {
  config: string;
  id: string;
  join?: boolean;
  truncateCorruptTail?: boolean;
  /** Only in the test entry point (testing-main.ts). */
  stateMachine?: string;
  nodeSilentMs?: string;
  electionGraceMs?: string;
  insecure?: boolean;
}

const STATE_MACHINES = ["rc", "hash-chain"] as const;

/** A positive integer option, or exit with a config error naming it. */
function msOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`--${name}: "${value}" is not a positive number of milliseconds`);
    process.exit(EXIT_CONFIG);
  }
  return n;
}

/** Exit codes a supervisor can tell apart (and EXIT_CONFIG, 2). */
const EXIT_CORRUPT = 3;
const EXIT_START = 4;

/**
 * Hooks for tests and benchmarks, which the `halon` binary never registers:
 * only the test entry point (src/cli/testing-main.ts) passes them.
 */
export interface ReplicaTestHooks {
  /** Adds `--state-machine rc|hash-chain` (hash-chain: raw payloads, for Raft tests and benchmarks). */
  stateMachineOption: boolean;
}

export function registerReplicaCommand(program: Command, testHooks?: ReplicaTestHooks): void {
  const cmd = program
    .command("rc")
    .description("run one recovery-coordinator replica from the cluster config")
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .requiredOption("--id <id>", "this replica's id in the config")
    .option(
      "--join",
      "start without writing the founding membership (a replica added later, or one whose data was lost)",
    )
    .option(
      "--truncate-corrupt-tail",
      "drop an unreadable tail of the log instead of refusing to start (entries it held may have been acknowledged)",
    )
    .option(
      "--node-silent-ms <ms>",
      "leader: a node not heard from for this long is declared silent",
      "15000",
    )
    .option(
      "--election-grace-ms <ms>",
      "leader: suspect no node for this long after winning an election",
      "5000",
    )
    .option("--insecure", "plain TCP without certificates (loopback addresses only)");
  if (testHooks?.stateMachineOption)
    cmd.option(
      "--state-machine <kind>",
      "what the replica applies: rc (the recovery coordinator) or hash-chain (raw payloads, for Raft tests and benchmarks)",
      "rc",
    );
  cmd.action(async (opts: RcOptions) => {
    const log = createLogger({ name: opts.id });
    const kind = STATE_MACHINES.find((k) => k === (opts.stateMachine ?? "rc"));
    if (!kind) {
      console.error(
        `--state-machine: "${String(opts.stateMachine)}" is not one of ${STATE_MACHINES.join(", ")}`,
      );
      process.exit(EXIT_CONFIG);
    }
    const nodeSilentMs = msOption("node-silent-ms", opts.nodeSilentMs);
    const electionGraceMs = msOption("election-grace-ms", opts.electionGraceMs);
    const config = loadConfigOrExit(opts.config);
    if (!config.replicas.some((r) => r.id === opts.id)) {
      console.error(
        `${opts.config}: no replica with id "${opts.id}" (ids: ${config.replicas.map((r) => r.id).join(", ")})`,
      );
      process.exit(EXIT_CONFIG);
    }
    let replica: Replica;
    let dashboard: DashboardServer | null = null;
    const metrics = new ReplicaMetrics();
    try {
      replica = await Replica.start({
        config,
        id: opts.id,
        logger: log,
        reloadConfig: () => loadClusterConfig(opts.config),
        join: opts.join,
        truncateCorruptTail: opts.truncateCorruptTail,
        stateMachine: kind,
        rcDuties: { nodeSilentMs, electionGraceMs },
        insecure: opts.insecure === true,
        instruments: metrics,
      });
      metrics.attach({
        status: () => replica.status(),
        machine: () => replica.coordinator?.machine ?? null,
      });
      const address = replica.self.dashboardAddress;
      if (address) {
        // HTTPS with the replica's own certificates (a reader or operator client certificate
        // required); plain HTTP only with --insecure, which is loopback only.
        const tls = replica.certificates;
        dashboard = new DashboardServer({ address, replica, metrics, logger: log, tls });
        await dashboard.start().catch(async (err: unknown) => {
          await replica.stop();
          throw err;
        });
        log.info({ url: `${tls ? "https" : "http"}://${address}/` }, "dashboard and /metrics listening");
      }
    } catch (err) {
      if (err instanceof SecuritySetupError) {
        console.error(`halon rc ${opts.id}: ${err.message}`);
        process.exit(EXIT_CONFIG);
      }
      if (err instanceof StorageCorruptionError) {
        log.fatal({ file: err.file, index: err.index }, err.message);
        console.error(`halon rc ${opts.id}: refusing to start: corrupt storage: ${err.message}`);
        process.exit(EXIT_CORRUPT);
      }
      log.fatal({ err: String(err) }, "replica failed to start");
      console.error(`halon rc ${opts.id}: cannot start: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(EXIT_START);
    }
    let signalled = false;
    const shutdown = (signal: string) => {
      if (signalled) return;
      signalled = true;
      log.info({ signal }, "stopping");
      // Never hang forever on the way out.
      setTimeout(() => process.exit(1), 15_000).unref();
      void Promise.resolve(dashboard?.stop())
        .catch(() => undefined)
        .then(() => replica.stop())
        .then(() => process.exit(0));
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
    // Rotation: re-read the certificate files now (they are also checked every few seconds).
    process.on("SIGHUP", () => replica.certificates?.reload());
  });
}
