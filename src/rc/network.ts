// What the coordinator's rules work with (docs/rc.md, "The rule network"):
// the graph, the outbox and the epochs they change, log time, and the way to
// the CEP recovery rules. The Coordinator is the one implementation; the
// rules (rules/) are functions of it, so that each reads on its own.
import { EventOutcome, type Command } from "../gen/halon/v1/events.js";
import type { Graph } from "../graph/index.js";
import type { RcConfig } from "./config.js";
import type { Epochs } from "./epochs.js";
import type { Outbox } from "./outbox.js";
import type { RuleEvent } from "./rules/types.js";

export interface Network {
  readonly config: RcConfig;
  readonly graph: Graph;
  readonly outbox: Outbox;
  readonly epochs: Epochs;
  /** Log time: the largest entry time seen. */
  readonly now: number;
  /** Feeds a rule event to the CEP recovery rules, and carries out what they ask for at once. */
  feed(event: RuleEvent): void;
  /** Issues a command into `slot` (superseding what was there), at `time` (default: now). */
  issue(slot: string, target: string, body: CommandBody, time?: number): void;
  /** Counts an event no rule knows, and keeps the most recent ones. */
  recordUnknown(id: string, name: string): void;
}

/** A command's body: what a rule decides; the outbox adds the id, target and issue fields. */
export type CommandBody = Omit<Command, "id" | "target" | "issuedAtMs" | "issuedIndex" | "issuedTerm">;

/** What a rule made of an event. */
export interface Outcome {
  outcome: EventOutcome;
  reason?: string;
}

export const APPLIED: Outcome = { outcome: EventOutcome.EVENT_OUTCOME_APPLIED };

export const stale = (reason: string): Outcome => ({
  outcome: EventOutcome.EVENT_OUTCOME_IGNORED_STALE,
  reason,
});

/** A numeric attribute, 0 when unset. */
export function num(graph: Graph, id: string, key: string): number {
  return (graph.attr(id, key) as number | undefined) ?? 0;
}

/** Online and not drained: a node that can be given work. */
export function isUsable(graph: Graph, nodeId: string): boolean {
  return graph.attr(nodeId, "state") === "online" && graph.attr(nodeId, "drained") !== true;
}
