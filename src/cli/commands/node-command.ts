// `halon node --config FILE --id NODE_ID`: runs the node service of one
// cluster host until SIGTERM or SIGINT, then stops its child processes and
// exits 0. docs/node.md describes what it does.
import type { Command } from "commander";
import { ClusterClient } from "../../api/cluster-client.js";
import { loadSecurity } from "../../api/security-setup.js";
import { createLogger } from "../../log/logger.js";
import { NodeService } from "../../node/node-service.js";
import { DEFAULT_RESTART_POLICY } from "../../node/local-rules.js";
import { serverCredentials } from "../../raft/transport/tls.js";
import { EXIT_CONFIG, loadConfigOrExit } from "../load-config-or-exit.js";

interface NodeOptions {
  config: string;
  id: string;
  heartbeatMs?: string;
  localRestarts: string;
  restartWindowMs: string;
  insecure?: boolean;
}

/** Exit codes, as for `halon rc` (and EXIT_CONFIG, 2). */
const EXIT_START = 4;

function count(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`--${name}: "${value}" is not a whole number of at least ${min}`);
    process.exit(EXIT_CONFIG);
  }
  return n;
}

export function registerNodeCommand(program: Command): void {
  program
    .command("node")
    .description(
      "run the node service of one cluster host: supervise its processes, carry out commands, report",
    )
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .requiredOption("--id <id>", "this node's id in the config (nodes[].id)")
    .option(
      "--heartbeat-ms <ms>",
      "how often to renew the session with the leader (default: the config's liveness.heartbeatMs)",
    )
    .option(
      "--local-restarts <n>",
      "local restarts of a process allowed within the window before the coordinator is told it failed",
      String(DEFAULT_RESTART_POLICY.budget),
    )
    .option(
      "--restart-window-ms <ms>",
      "the window of the local restart budget",
      String(DEFAULT_RESTART_POLICY.windowMs),
    )
    .option("--insecure", "plain TCP without certificates (loopback addresses only)")
    .action(async (opts: NodeOptions) => {
      const log = createLogger({ name: opts.id });
      const budget = count("local-restarts", opts.localRestarts, 0);
      const windowMs = count("restart-window-ms", opts.restartWindowMs, 1);
      const config = loadConfigOrExit(opts.config);
      const heartbeatMs = count("heartbeat-ms", opts.heartbeatMs ?? String(config.liveness.heartbeatMs), 1);
      if (3 * heartbeatMs > config.liveness.silentAfterMs) {
        console.error(
          `--heartbeat-ms ${heartbeatMs}: the leader declares a node silent after ${config.liveness.silentAfterMs} ms (liveness.silentAfterMs); renew at least 3 times in that (at most ${Math.floor(config.liveness.silentAfterMs / 3)} ms)`,
        );
        process.exit(EXIT_CONFIG);
      }
      if (!config.nodes.some((n) => n.id === opts.id)) {
        console.error(
          `${opts.config}: no node with id "${opts.id}" (ids: ${config.nodes.map((n) => n.id).join(", ") || "none"})`,
        );
        process.exit(EXIT_CONFIG);
      }
      const me = config.nodes.find((n) => n.id === opts.id)!;
      let tls;
      try {
        tls = loadSecurity(
          config,
          "node",
          opts.id,
          [
            me.grpcAddress,
            ...(me.listenAddress ? [me.listenAddress] : []),
            ...config.replicas.map((r) => r.grpcAddress),
          ],
          {
            insecure: opts.insecure === true,
            onReloadError: (message) => log.error({}, message),
            onReload: () => log.info({}, "certificates reloaded"),
          },
        );
      } catch (err) {
        console.error(`halon node ${opts.id}: ${(err as Error).message}`);
        process.exit(EXIT_CONFIG);
      }
      // Rotation: new certificate files are used for new connections.
      process.on("SIGHUP", () => tls?.reload());
      const client = new ClusterClient({ addresses: config.replicas.map((r) => r.grpcAddress), tls });
      let service: NodeService;
      try {
        service = await NodeService.start({
          config,
          nodeId: opts.id,
          sink: client,
          credentials: serverCredentials(tls),
          logger: log,
          heartbeatMs,
          restartPolicy: { ...DEFAULT_RESTART_POLICY, budget, windowMs },
        });
      } catch (err) {
        log.fatal({ err: String(err) }, "node service failed to start");
        console.error(
          `halon node ${opts.id}: cannot start: ${err instanceof Error ? err.message : String(err)}`,
        );
        client.close();
        process.exit(EXIT_START);
      }
      let signalled = false;
      const shutdown = (signal: string) => {
        if (signalled) return;
        signalled = true;
        log.info({ signal }, "stopping");
        // Never hang forever on the way out (children get SIGKILL after 5 s).
        setTimeout(() => process.exit(1), 15_000).unref();
        void service.stop().then(() => {
          client.close();
          process.exit(0);
        });
      };
      process.on("SIGTERM", () => shutdown("SIGTERM"));
      process.on("SIGINT", () => shutdown("SIGINT"));
    });
}
