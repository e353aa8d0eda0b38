import type { Command } from "commander";
import { ConfigError, loadClusterConfig } from "../../config/index.js";

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("work with cluster-config files");
  config
    .command("check")
    .description("validate a cluster-config file and print what it describes")
    .argument("<file>", "a cluster-config YAML file")
    .option("--json", "print the validated config (with defaults filled in) as JSON")
    .action((file: string, opts: { json?: boolean }) => {
      try {
        const cfg = loadClusterConfig(file);
        if (opts.json) {
          console.log(JSON.stringify(cfg, null, 2));
          return;
        }
        console.log(
          `${file}: cluster "${cfg.cluster.name}": ${cfg.replicas.length} replicas, ` +
            `${cfg.nodes.length} node services, ${cfg.pools.length} pools`,
        );
      } catch (err) {
        if (err instanceof ConfigError) {
          console.error(err.message);
          process.exitCode = 2;
          return;
        }
        throw err;
      }
    });
}
