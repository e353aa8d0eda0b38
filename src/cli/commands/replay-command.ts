// `halon replay DATA_DIR [--to INDEX]`: rebuilds a replica's state offline
// from its snapshot and log (on a copy), checks the state hashes the replica
// reported, then prints the graph, or one resource's history and explanation.
import type { Command } from "commander";
import { explain, getHistory } from "../../api/history-service.js";
import { wholeGraph } from "../../api/graph-view.js";
import { loadClusterConfig } from "../../config/index.js";
import { renderTree } from "../graph-tree.js";
import { renderExplanation, renderHistory } from "../history-text.js";
import { replay, ReplayError, type ReplayResult } from "../replay.js";
import { run } from "./cluster-commands.js";

interface ReplayOpts {
  to?: string;
  config?: string;
  expect: string[];
  resource?: string;
  json?: boolean;
}

const REPLAY_ID = "replay";

function parseExpect(values: string[]): { index: number; hash: string }[] {
  return values.map((v) => {
    const m = /^(\d+):([0-9a-f]{64})$/.exec(v);
    if (!m)
      throw new ReplayError(`--expect: "${v}" is not INDEX:SHA256 (as halon status --json shows stateHash)`);
    return { index: Number(m[1]), hash: m[2]! };
  });
}

function summaryLines(dataDir: string, r: ReplayResult): string[] {
  const lines = [
    `Replayed ${dataDir}: snapshot at index ${r.snapshotIndex}, then the log up to index ${r.index} ` +
      `(the replica had persisted commit index ${r.persistedCommit}; its log ends at ${r.lastLogIndex}).`,
    `State hash at ${r.index}: ${r.machine.summary().hash}`,
  ];
  const bad = r.checks.filter((c) => !c.ok);
  if (r.checks.length === 0)
    lines.push("No reported state hash falls within the replayed range: nothing to check.");
  else if (bad.length === 0)
    lines.push(
      `The ${r.checks.length} reported state hash(es) in range match (indexes ${r.checks.map((c) => c.index).join(", ")}).`,
    );
  for (const c of bad) lines.push(`MISMATCH at index ${c.index}: reported ${c.hash}, replayed ${c.replayed}`);
  if (r.unchecked.length > 0)
    lines.push(`${r.unchecked.length} reported hash(es) outside the replayed range not checked.`);
  return lines;
}

export function registerReplayCommand(program: Command): void {
  program
    .command("replay")
    .description(
      "rebuild a replica's coordinator state offline from its snapshot and log (on a copy), check the state hashes it reported, and print the graph or a resource's history and explanation",
    )
    .argument("<dataDir>", "the replica's data directory (dataDir in the cluster config)")
    .option("--to <index>", "stop after this log index (default: the commit index the replica persisted)")
    .option(
      "--config <file>",
      "the cluster config the replica ran with (its recovery settings); defaults otherwise",
    )
    .option(
      "--expect <index:hash>",
      "also check this state hash (from halon status --json); repeatable",
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option("--resource <id>", "print this resource's history and explanation instead of the graph")
    .option("--json", "print JSON")
    .action((dataDir: string, opts: ReplayOpts) =>
      run(async () => {
        let result: ReplayResult;
        try {
          const to = opts.to === undefined ? undefined : Number(opts.to);
          if (to !== undefined && (!Number.isSafeInteger(to) || to < 0))
            throw new ReplayError(`--to: "${opts.to}" is not a log index`);
          result = await replay({
            dataDir,
            to,
            config: opts.config ? loadClusterConfig(opts.config) : undefined,
            expect: parseExpect(opts.expect),
            warn: (m) => console.error(`warning: ${m}`),
          });
        } catch (err) {
          if (!(err instanceof ReplayError)) throw err;
          console.error(`halon replay: ${err.message}`);
          process.exitCode = 2;
          return;
        }
        const mismatch = result.checks.some((c) => !c.ok);
        const source = { machine: result.machine, history: result.history };
        const resource = opts.resource;
        if (opts.json) {
          console.log(
            JSON.stringify(
              {
                snapshotIndex: result.snapshotIndex,
                index: result.index,
                persistedCommit: result.persistedCommit,
                lastLogIndex: result.lastLogIndex,
                stateHash: `${result.index}:${result.machine.summary().hash}`,
                checks: result.checks,
                unchecked: result.unchecked,
                ...(resource
                  ? {
                      history: getHistory(REPLAY_ID, source, {
                        resourceId: resource,
                        limit: 1_000,
                        stale: true,
                      }),
                      explain: explain(REPLAY_ID, source, { resourceId: resource, stale: true }),
                    }
                  : { graph: wholeGraph(result.machine.graph) }),
              },
              null,
              2,
            ),
          );
        } else {
          console.log(summaryLines(dataDir, result).join("\n"));
          console.log("");
          if (resource) {
            console.log(
              renderHistory(
                getHistory(REPLAY_ID, source, { resourceId: resource, limit: 1_000, stale: true }),
                resource,
              ),
            );
            console.log("");
            console.log(renderExplanation(explain(REPLAY_ID, source, { resourceId: resource, stale: true })));
          } else console.log(renderTree(wholeGraph(result.machine.graph)));
        }
        if (mismatch) process.exitCode = 1;
      }),
    );
}
