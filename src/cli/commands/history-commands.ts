// `halon history [--resource ID]` and `halon explain ID`: what the coordinator
// did recently, and why a resource is in its state (from the leader's history;
// each replica keeps its own, from when it started).
import type { Command } from "commander";
import { renderExplanation, renderHistory } from "../history-text.js";
import { withClientSecurity, type ClientSecurityOptions } from "../security-options.js";
import { clientFor, run, STALE_HELP } from "./cluster-commands.js";

export function registerHistoryCommands(program: Command): void {
  withClientSecurity(
    program
      .command("history")
      .description("the recent events, rule steps, graph changes and commands, cause by cause")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--resource <id>", "only what is about this resource")
      .option("--limit <n>", "the most recent causes to show (at most 1000)", "50")
      .option("--stale", STALE_HELP)
      .option("--json", "print the response as JSON"),
  ).action(
    (
      opts: {
        config: string;
        resource?: string;
        limit: string;
        stale?: boolean;
        json?: boolean;
      } & ClientSecurityOptions,
    ) =>
      run(async () => {
        const limit = Number(opts.limit);
        if (!Number.isSafeInteger(limit) || limit <= 0) {
          console.error(`--limit: "${opts.limit}" is not a positive number`);
          process.exitCode = 2;
          return;
        }
        const { client } = clientFor(opts);
        try {
          const res = await client.getHistory(opts.resource ?? "", limit, { stale: opts.stale });
          console.log(opts.json ? JSON.stringify(res, null, 2) : renderHistory(res, opts.resource ?? ""));
        } finally {
          client.close();
        }
      }),
  );

  withClientSecurity(
    program
      .command("explain")
      .description("why a resource is in its state: the cause that set it and the rule steps before it")
      .argument("<id>", "a resource id (process, node, disk...)")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--stale", STALE_HELP)
      .option("--json", "print the response as JSON"),
  ).action((id: string, opts: { config: string; stale?: boolean; json?: boolean } & ClientSecurityOptions) =>
    run(async () => {
      const { client } = clientFor(opts);
      try {
        const res = await client.explain(id, { stale: opts.stale });
        console.log(opts.json ? JSON.stringify(res, null, 2) : renderExplanation(res));
      } finally {
        client.close();
      }
    }),
  );
}
