// Commands for the recovery coordinator of a running cluster: submit events,
// show the resource graph, watch its changes.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { Command } from "commander";
import type { GraphUpdate } from "../../gen/halon/v1/client.js";
import { EventOutcome, type Command as RcCommand, type Event } from "../../gen/halon/v1/events.js";
import { parseEvents } from "../event-json.js";
import { renderChange, renderResource, renderTree } from "../graph-tree.js";
import { withClientSecurity, type ClientSecurityOptions } from "../security-options.js";
import { clientFor, run, STALE_HELP } from "./cluster-commands.js";

const OUTCOMES: Record<number, string> = {
  [EventOutcome.EVENT_OUTCOME_APPLIED]: "applied",
  [EventOutcome.EVENT_OUTCOME_DUPLICATE]: "duplicate",
  [EventOutcome.EVENT_OUTCOME_REJECTED]: "rejected",
  [EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN]: "recorded (no rule for it)",
  [EventOutcome.EVENT_OUTCOME_IGNORED_STALE]: "ignored (stale)",
};

interface SubmitOptions extends ClientSecurityOptions {
  config: string;
  json?: string;
  file?: string;
  output?: string;
}

function eventsText(opts: SubmitOptions): string {
  if (opts.json !== undefined) return opts.json;
  if (opts.file !== undefined) return readFileSync(opts.file === "-" ? 0 : opts.file, "utf8");
  throw new Error("give the events with --json '<event>' or --file FILE (--file - reads stdin)");
}

export function registerRcCommands(program: Command): void {
  registerRulesCommand(program);
  const events = program.command("events").description("send events to the recovery coordinator");
  withClientSecurity(
    events
      .command("submit")
      .description(
        "submit one event or a JSON array of events (fields in camelCase, e.g. " +
          `'{"id":"e1","stripingError":{"poolId":"pool-main","diskId":"disk-1a"}}'); an event without an id gets one`,
      )
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--json <text>", "the event(s) as JSON")
      .option("--file <file>", "read the event(s) from a JSON file (- for stdin)")
      .option("--output <format>", "text or json", "text"),
  ).action((opts: SubmitOptions) =>
    run(async () => {
      let list: Event[];
      try {
        list = parseEvents(eventsText(opts), () => `cli-${randomUUID()}`);
      } catch (err) {
        console.error(`error: ${(err as Error).message}`);
        process.exitCode = 2;
        return;
      }
      const { client } = clientFor(opts);
      try {
        const res = await client.submitEvents(list);
        if (opts.output === "json") console.log(JSON.stringify(res, null, 2));
        else {
          for (const r of res.results) {
            const why = r.code !== "" ? ` (${r.code}): ${r.reason}` : r.reason !== "" ? `: ${r.reason}` : "";
            console.log(`${r.eventId}: ${OUTCOMES[r.outcome] ?? "unknown outcome"}${why}`);
          }
          for (const c of res.commands) console.log(`  command ${c.id} -> ${c.target}: ${commandName(c)}`);
          console.log(`(log index ${res.index})`);
        }
        if (res.results.some((r) => r.outcome === EventOutcome.EVENT_OUTCOME_REJECTED)) process.exitCode = 1;
      } finally {
        client.close();
      }
    }),
  );

  withClientSecurity(
    program
      .command("graph")
      .description("show the resource graph: a tree of the topology with states, and the pools")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--id <resource>", "one resource, its attributes and its neighbours")
      .option("--stale", STALE_HELP)
      .option("--json", "print the graph as JSON"),
  ).action((opts: { config: string; id?: string; stale?: boolean; json?: boolean } & ClientSecurityOptions) =>
    run(async () => {
      const { client } = clientFor(opts);
      try {
        const res = await client.getGraph(opts.id ?? "", { stale: opts.stale });
        if (opts.json) {
          console.log(JSON.stringify(res, null, 2));
          return;
        }
        const view = res.graph ?? { resources: [], edges: [] };
        console.log(opts.id ? renderResource(view, opts.id) : renderTree(view));
        console.log(
          `\n(${res.replicaId} at index ${res.appliedIndex}${opts.stale ? " (stale read)" : ""}, epoch ${res.epoch}, state ${res.stateHash.slice(0, 20)}…)`,
        );
      } finally {
        client.close();
      }
    }),
  );

  withClientSecurity(
    program
      .command("watch")
      .description("stream the resource graph's changes as they are applied (until Ctrl-C)")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--from <index>", "start after this applied index (default: print the whole graph first)", "0")
      .option("--json", "one JSON object per update"),
  ).action((opts: { config: string; from: string; json?: boolean } & ClientSecurityOptions) =>
    run(async () => {
      const { config, client } = clientFor(opts);
      const addresses = config.replicas.map((r) => r.grpcAddress);
      let from = Number(opts.from);
      if (!Number.isSafeInteger(from) || from < 0) throw new Error(`--from: "${opts.from}" is not an index`);
      // Follows one replica; when its stream ends or fails, resumes from the last index on the next one.
      for (let i = 0; ; i++) {
        const address = addresses[i % addresses.length]!;
        await new Promise<void>((resolve, reject) => {
          const stream = client.watchGraph(address, from);
          stream.on("data", (update: GraphUpdate) => {
            printUpdate(update, opts.json === true);
            from = Math.max(from, update.index);
          });
          stream.on("error", (err: ServiceError) => {
            // Refused, not failed: another replica would refuse too.
            if (err.code === status.UNAUTHENTICATED || err.code === status.PERMISSION_DENIED) {
              reject(err);
              return;
            }
            console.error(`(${address}: ${err.details || err.message}; resuming from index ${from})`);
            resolve();
          });
          stream.on("end", () => resolve());
        });
        await new Promise((r) => setTimeout(r, 500));
      }
    }),
  );
}

interface RulesOptions extends ClientSecurityOptions {
  config: string;
  disable?: string;
  enableAll?: boolean;
  version?: string;
  json?: boolean;
}

/** `halon rules`: shows the rules and their faults; --disable / --enable-all write a rules-version entry. */
function registerRulesCommand(program: Command): void {
  withClientSecurity(
    program
      .command("rules")
      .description(
        "show the coordinator's rules version, the rules switched off and the faults recorded; " +
          "--disable RULE[,RULE] switches rules off (a rule that fails on every event), --enable-all on again",
      )
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--disable <rules>", "comma-separated rule names to switch off (replaces the current list)")
      .option("--enable-all", "switch every rule on again")
      .option("--version <n>", "the rules version to run (default: the current one)")
      .option("--json", "print the response as JSON"),
  ).action((opts: RulesOptions) =>
    run(async () => {
      const { client } = clientFor(opts);
      try {
        let res = await client.getRules();
        if (opts.disable !== undefined || opts.enableAll || opts.version !== undefined) {
          const disabled = opts.enableAll
            ? []
            : opts.disable !== undefined
              ? opts.disable
                  .split(",")
                  .map((r) => r.trim())
                  .filter((r) => r !== "")
              : res.disabledRules;
          const version = opts.version === undefined ? res.version : Number(opts.version);
          if (!Number.isSafeInteger(version) || version < 1)
            throw new Error(`--version: "${opts.version}" is not a version`);
          res = await client.changeRules(version, disabled);
        }
        if (opts.json) {
          console.log(JSON.stringify(res, null, 2));
          return;
        }
        console.log(`rules version ${res.version}; rules: ${res.knownRules.join(", ")}`);
        console.log(
          `switched off: ${res.disabledRules.length === 0 ? "none" : res.disabledRules.join(", ")}`,
        );
        console.log(
          `faults: ${res.faultCount}` +
            (res.faultsByRule.length === 0
              ? ""
              : ` (${res.faultsByRule.map((f) => `${f.rule === "" ? "(no rule)" : f.rule}: ${f.count}`).join(", ")})`),
        );
        for (const f of res.recentFaults.slice(-10))
          console.log(
            `  #${f.index} ${f.code} ${f.rule === "" ? "" : `rule ${f.rule} `}${f.key === "" ? "" : `on ${f.key} `}${f.eventId === "" ? "(a timer)" : `event ${f.eventId}`}`,
          );
        console.log(`(at index ${res.appliedIndex})`);
      } finally {
        client.close();
      }
    }),
  );
}

function printUpdate(u: GraphUpdate, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(u));
    return;
  }
  if (u.graph) console.log(`#${u.index} the whole graph:\n${renderTree(u.graph)}`);
  for (const c of u.changes) console.log(renderChange(u.index, c));
}

const COMMAND_BODIES = [
  "respawnProcess",
  "respawnNode",
  "epochTransition",
  "startProcesses",
  "stopProcesses",
] as const;

function commandName(c: RcCommand): string {
  const body = COMMAND_BODIES.find((k) => c[k] !== undefined);
  return body ? `${body} ${JSON.stringify(c[body])}` : "(unknown command)";
}
