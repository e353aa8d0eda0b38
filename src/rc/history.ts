// A bounded record of what the coordinator did, cause by cause (history), and
// why a resource is in its state (explain). It is fed by the state machine's
// trace of the production path (trace.ts), so it tells what ran, not what a
// second implementation thinks would have run.
//
// It is NOT replicated state: each replica keeps its own, in memory, of the
// entries it applied since it started (or since its last snapshot install),
// and it is not in the state hash. `halon replay` rebuilds it offline from a
// replica's snapshot and log.
import type { Command } from "../gen/halon/v1/events.js";
import type { Graph, GraphChange } from "../graph/index.js";
import { changeSubjects, commandSubjects, type CauseTrace, type EntryTrace } from "./trace.js";

/** One cause (an event, or timers falling due) with everything that followed from it in its entry. */
export interface HistoryItem extends CauseTrace {
  index: number;
  timeMs: number;
  /** Every resource the cause, its rule steps, changes and commands name; sorted. */
  resources: string[];
}

export const DEFAULT_HISTORY_ITEMS = 5_000;
/** resources not worked out yet (see withResources). */
const UNKNOWN: string[] = [];
/** Steps back from the decisive cause that explain() follows at most. */
const EXPLAIN_MAX_STEPS = 20;

export class History {
  private readonly items: HistoryItem[] = [];
  /** Items before this index are no longer all kept (dropped, or applied before a snapshot install). */
  private keptFrom = 0;
  /** Recent commands by id, so that a CommandResult is filed under what its command was about. */
  private readonly commands = new Map<string, Command>();
  /**
   * Their ids, oldest first from `commandsHead`: which one to forget next. Not
   * the map's own order (commands.keys().next()): a map's iterator steps over
   * every entry deleted before it, which made each forgetting cost thousands of steps.
   */
  private commandOrder: string[] = [];
  private commandsHead = 0;

  constructor(private readonly maxItems = DEFAULT_HISTORY_ITEMS) {}

  /** Adds what one entry did (the state machine leaves out causes that did nothing). */
  record(trace: EntryTrace): void {
    for (const cause of trace.causes) {
      for (const c of cause.commands) this.rememberCommand(c);
      // resources are worked out when asked for: recording stays cheap on the apply path.
      this.items.push({
        cause: cause.cause,
        rules: cause.rules,
        changes: cause.changes,
        commands: cause.commands,
        index: trace.index,
        timeMs: trace.timeMs,
        resources: UNKNOWN,
      });
    }
    // Trimmed in chunks: shifting a long array once per cause would cost more than the rest.
    const excess = this.items.length - this.maxItems;
    if (excess > Math.max(64, this.maxItems / 8) || (excess > 0 && this.maxItems < 64)) {
      this.keptFrom = this.items[excess - 1]!.index;
      this.items.splice(0, excess);
    }
  }

  /** The state was replaced by a snapshot: what came before is no longer known here. */
  reset(appliedIndex: number): void {
    this.items.length = 0;
    this.commands.clear();
    this.commandOrder = [];
    this.commandsHead = 0;
    this.keptFrom = appliedIndex;
  }

  /** The index from which every cause is kept (0: since the beginning of the log). */
  get keptFromIndex(): number {
    const excess = this.items.length - this.maxItems;
    return excess > 0 ? this.items[excess - 1]!.index : this.keptFrom;
  }

  /** The most recent items, oldest first; about one resource when `resourceId` is given. */
  recent(limit: number, resourceId?: string): HistoryItem[] {
    const out: HistoryItem[] = [];
    const first = Math.max(0, this.items.length - this.maxItems);
    for (let i = this.items.length - 1; i >= first && out.length < limit; i--) {
      const item = this.withResources(this.items[i]!);
      if (resourceId === undefined || item.resources.includes(resourceId)) out.push(item);
    }
    return out.reverse();
  }

  /**
   * Why `id` is in its state: the cause that last set its `state` (or, for a
   * resource without one, last changed it), and before it the causes about it
   * back to where its current rule episode began (a rule instance for it was
   * created), oldest first. Null when the resource does not exist.
   */
  explain(graph: Graph, id: string): Explanation | null {
    const resource = graph.get(id);
    if (!resource) return null;
    const state = resource.attrs.state;
    const about = this.items
      .slice(Math.max(0, this.items.length - this.maxItems))
      .map((i) => this.withResources(i))
      .filter((i) => i.resources.includes(id));
    let decisive = -1;
    for (let i = about.length - 1; i >= 0 && decisive < 0; i--)
      if (about[i]!.changes.some((c) => setsState(c, id, state))) decisive = i;
    if (decisive < 0)
      for (let i = about.length - 1; i >= 0 && decisive < 0; i--)
        if (about[i]!.changes.some((c) => changeSubjects(c).includes(id))) decisive = i;
    // A change without rules (a striping error failing a disk) is its own explanation; a rule
    // episode (a respawn with backoff, a silent node) is followed back to where it began.
    const ruled = (item: HistoryItem) => item.rules.some((r) => r.phases.some((p) => p.key === id));
    const began = (item: HistoryItem) =>
      item.rules.some((r) => r.phases.some((p) => p.key === id && p.before === ""));
    const steps: HistoryItem[] = [];
    if (decisive >= 0) steps.push(about[decisive]!);
    if (decisive >= 0 && ruled(about[decisive]!))
      for (let i = decisive; i > 0 && !began(about[i]!) && steps.length < EXPLAIN_MAX_STEPS; i--)
        steps.unshift(about[i - 1]!);
    const kind = resource.kind;
    const summary =
      decisive < 0
        ? `${kind} ${id} is ${describeState(state)}; nothing kept here changed it (history kept from index ${this.keptFromIndex})`
        : `${kind} ${id} is ${describeState(state)} since entry ${about[decisive]!.index}: ${causeLine(about[decisive]!)}`;
    return { id, kind, attrs: resource.attrs, summary, steps, keptFromIndex: this.keptFromIndex };
  }

  private withResources(item: HistoryItem): HistoryItem {
    if (item.resources === UNKNOWN) item.resources = this.resourcesOf(item);
    return item;
  }

  private resourcesOf(item: HistoryItem): string[] {
    const ids = new Set<string>();
    const cause = item.cause;
    if (cause.kind === "event") {
      for (const s of cause.subjects) ids.add(s);
      // A command result is about what its command was about.
      if (cause.name === "commandResult")
        for (const s of cause.subjects) {
          const command = this.commands.get(s);
          if (command) for (const r of commandSubjects(command)) ids.add(r);
        }
    }
    for (const r of item.rules) {
      if (r.input) ids.add("processId" in r.input ? r.input.processId : r.input.nodeId);
      for (const i of r.intents) ids.add(i.key);
      // A graph step is about its key (a topology's is the cluster's name, not a resource).
      if (r.kind === "graph" && r.on !== "topology-declared" && r.on !== "unknown") ids.add(r.key);
    }
    for (const c of item.changes) for (const s of changeSubjects(c)) ids.add(s);
    for (const c of item.commands) for (const s of commandSubjects(c)) ids.add(s);
    ids.delete("");
    return [...ids].sort();
  }

  private rememberCommand(c: Command): void {
    // A command seen again keeps its place, as in a map's insertion order.
    if (!this.commands.has(c.id)) this.commandOrder.push(c.id);
    this.commands.set(c.id, c);
    // Bounded like the items: a command older than this is long settled.
    if (this.commands.size > this.maxItems) {
      this.commands.delete(this.commandOrder[this.commandsHead++] as string);
      // Drop the forgotten ids now and then, so that the list follows the map's size.
      if (this.commandsHead > 1024 && this.commandsHead * 2 > this.commandOrder.length) {
        this.commandOrder = this.commandOrder.slice(this.commandsHead);
        this.commandsHead = 0;
      }
    }
  }
}

export interface Explanation {
  id: string;
  kind: string;
  attrs: Readonly<Record<string, unknown>>;
  summary: string;
  /** Oldest first; the last one set the current state. */
  steps: HistoryItem[];
  keptFromIndex: number;
}

function setsState(c: GraphChange, id: string, state: unknown): boolean {
  if (c.op === "set") return c.id === id && c.key === "state" && c.value === state;
  if (c.op === "add") return c.id === id && c.attrs.state === state;
  return false;
}

function describeState(state: unknown): string {
  return state === undefined ? "without a state" : JSON.stringify(state);
}

// ---------------------------------------------------------------- one line each, for people

/** The cause in one line: `event e1 processFailed [ios-1] (node1): applied`, or `timers fell due`. */
export function causeLine(item: CauseTrace): string {
  const c = item.cause;
  switch (c.kind) {
    case "event": {
      const why = c.code !== "" ? ` ${c.code}: ${c.reason}` : c.reason !== "" ? ` (${c.reason})` : "";
      const from = c.source !== "" ? ` from ${c.source}` : "";
      return `event ${c.eventId} ${c.name || "(no body)"} [${c.subjects.join(", ")}]${from}: ${c.outcome}${why}`;
    }
    case "timers":
      return "time moved on: rule timers fell due";
    case "rules-version":
      return `rules version ${c.version}`;
    case "error":
      return `entry refused: ${c.error}`;
  }
}

/**
 * What followed from a cause, step by step, in order: each step of the rule
 * network, the graph changes and commands of a graph step under it.
 */
export function stepLines(item: CauseTrace, only?: string): string[] {
  const lines: string[] = [];
  let covered = 0;
  for (const r of item.rules) {
    if (r.kind === "graph") {
      covered += r.changes.length + r.commands.length;
      const made = [
        ...r.changes.filter((c) => only === undefined || changeSubjects(c).includes(only)).map(changeLine),
        ...r.commands.filter((c) => only === undefined || commandSubjects(c).includes(only)).map(commandLine),
      ];
      if (only !== undefined && made.length === 0 && r.key !== only) continue;
      lines.push(`rule ${r.rule}[${r.key}] ← ${r.on}`, ...made.map((l) => `  ${l}`));
      continue;
    }
    const input = r.input
      ? `${r.input.t} ${"processId" in r.input ? r.input.processId : r.input.nodeId}`
      : "timer";
    const phases = r.phases
      .filter((p) => only === undefined || p.key === only || r.intents.some((i) => i.key === p.key))
      .map((p) => `${p.rule}[${p.key}] ${p.before || "(none)"} → ${p.after || "(ended)"}`);
    const intents = r.intents.map((i) => `${i.rule}[${i.key}] asks ${intentText(i.intent)}`);
    if (only !== undefined && phases.length === 0 && intents.length === 0 && !input.endsWith(` ${only}`))
      continue;
    lines.push(
      `rules ← ${input}${phases.length ? `: ${phases.join("; ")}` : ""}${intents.length ? `; ${intents.join("; ")}` : ""}`,
    );
  }
  // Every change and command is in a graph step; a trace made otherwise still shows them.
  if (covered < item.changes.length + item.commands.length) {
    for (const c of item.changes) {
      if (only !== undefined && !changeSubjects(c).includes(only)) continue;
      lines.push(changeLine(c));
    }
    for (const c of item.commands) {
      if (only !== undefined && !commandSubjects(c).includes(only)) continue;
      lines.push(commandLine(c));
    }
  }
  return lines;
}

function intentText(i: CauseTrace["rules"][number]["intents"][number]["intent"]): string {
  const { do: what, ...rest } = i;
  const args = Object.entries(rest)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
  return args ? `${what} (${args})` : what;
}

export function changeLine(c: GraphChange): string {
  switch (c.op) {
    case "add":
      return `add ${c.kind} ${c.id}`;
    case "remove":
      return `remove ${c.kind} ${c.id}`;
    case "set":
      return `set ${c.id}.${c.key} = ${JSON.stringify(c.value)}${c.old === null ? "" : ` (was ${JSON.stringify(c.old)})`}`;
    case "unset":
      return `unset ${c.id}.${c.key} (was ${JSON.stringify(c.old)})`;
    case "connect":
    case "disconnect":
      return `${c.op} ${c.from} -${c.relation}-> ${c.to}`;
  }
}

export function commandLine(c: Command): string {
  const [body, args] = Object.entries(c).find(
    ([k, v]) => k !== "id" && k !== "target" && k !== "issuedAtMs" && typeof v === "object" && v !== null,
  ) ?? ["(none)", {}];
  return `command ${c.id} ${body} → ${c.target} ${JSON.stringify(args)}`;
}
