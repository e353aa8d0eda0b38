// What one applied entry did, told as it happens on the production path: the
// cause (an event, or timers falling due), the CEP steps the coordinator took
// with the rule phases before and after, the graph changes and the commands.
// It is not replicated state: the state machine hands it to an observer
// (history.ts keeps it, bounded, outside the hashed state).
import type { Command, Event } from "../gen/halon/v1/events.js";
import type { GraphChange } from "../graph/index.js";
import type { Intent, RuleEvent } from "./rules/types.js";
import { EVENT_BODIES } from "./validate.js";

/** A rule's phase for one key, before and after one CEP step ("" when it had no instance). */
export interface PhaseChange {
  rule: string;
  key: string;
  before: string;
  after: string;
}

/**
 * One step of the coordinator's rule network. A "graph" step is a rule that
 * changed the graph or issued commands: the rule an event goes to (see
 * EVENT_RULES in rules/event-rules.ts), or a recovery rule whose intent was carried
 * out; every graph change and command of an entry is in exactly one graph
 * step. A "cep" step is an input to the CEP recovery rules (a rule event, or
 * a timer falling due) with the phases it moved and the intents it asked for.
 */
export interface RuleStepTrace {
  kind: "graph" | "cep";
  /** Log time of the step. */
  time: number;
  /** The rule that took it ("process-reports", "process-recovery"...); "" for a CEP input no rule took. */
  rule: string;
  /** What it was about: a process, node, disk, command... */
  key: string;
  /** What it took: the event ("process-failed"), the intent carried out ("respawn-process"), the rule event, or "timer". */
  on: string;
  /** CEP steps: the rule event fed in; null for a timer and for graph steps. */
  input: RuleEvent | null;
  /** CEP steps: what the rules asked for, each with the rule and key that asked. */
  intents: { rule: string; key: string; time: number; intent: Intent }[];
  /** CEP steps: phases of the rule instances the step touched (only those that exist before or after). */
  phases: PhaseChange[];
  /** Graph steps: the graph changes the rule made in this step, in order. */
  changes: GraphChange[];
  /** Graph steps: the commands it issued. */
  commands: Command[];
}

export type TraceCause =
  | {
      kind: "event";
      eventId: string;
      /** The event's body name ("processFailed"...), or "" when it had none. */
      name: string;
      source: string;
      /** Ids the event names directly (processId, nodeId, poolId, diskId...), sorted. */
      subjects: string[];
      /** EventOutcome name without its prefix: "applied", "rejected", "ignored_stale"... */
      outcome: string;
      code: string;
      reason: string;
    }
  /** Time moved on (a Tick or an event batch's time) and rule timers fell due. */
  | { kind: "timers" }
  | { kind: "rules-version"; version: number }
  | { kind: "error"; error: string };

export interface CauseTrace {
  cause: TraceCause;
  rules: RuleStepTrace[];
  changes: GraphChange[];
  commands: Command[];
}

export interface EntryTrace {
  index: number;
  timeMs: number;
  causes: CauseTrace[];
}

/**
 * The body name of an event and the ids its body names directly (fields ending in Id or Ids).
 * The first body in declaration order (EVENT_BODIES, the order of a decoded Event's fields).
 * It runs for every event the history keeps: the body fields by name, not Object.entries().
 */
export function eventSubjects(ev: Event): { name: string; subjects: string[] } {
  for (const name of EVENT_BODIES) {
    const body: unknown = ev[name];
    if (body === undefined || body === null || typeof body !== "object") continue;
    return { name, subjects: idsIn(body as Record<string, unknown>) };
  }
  return { name: "", subjects: [] };
}

/** The resource ids a command is about: its target and the ids its body names. */
export function commandSubjects(c: Command): string[] {
  const ids = new Set<string>();
  if (c.target !== "*") ids.add(c.target);
  for (const [name, body] of Object.entries(c)) {
    if (name === "target" || name === "id" || body === undefined || body === null || typeof body !== "object")
      continue;
    for (const id of idsIn(body as Record<string, unknown>)) ids.add(id);
    // StartProcesses lists its processes as objects.
    const list = (body as { processes?: unknown }).processes;
    if (Array.isArray(list))
      for (const p of list)
        if (
          typeof p === "object" &&
          p !== null &&
          typeof (p as { processId?: unknown }).processId === "string"
        )
          ids.add((p as { processId: string }).processId);
  }
  return [...ids].sort();
}

function idsIn(body: Record<string, unknown>): string[] {
  const ids = new Set<string>();
  for (const k of Object.keys(body)) {
    const v = body[k];
    if (k.endsWith("Id") && typeof v === "string" && v !== "") ids.add(v);
    if (k.endsWith("Ids") && Array.isArray(v)) for (const x of v) if (typeof x === "string") ids.add(x);
  }
  return [...ids].sort();
}

/** The process or node a rule event is about: the key the recovery rules use for it. */
export function ruleEventSubject(e: RuleEvent): string {
  return "processId" in e ? e.processId : e.nodeId;
}

/** The ids a graph change is about. */
export function changeSubjects(c: GraphChange): string[] {
  return c.op === "connect" || c.op === "disconnect" ? [c.from, c.to] : [c.id];
}
