// What the coordinator feeds its CEP rules and what they answer. The
// coordinator checks every event against the graph first (does the process
// exist, is this failure stale, is the node online) and hands the rules only
// what they need: the rules keep the timers, budgets and phases; the graph and
// the outbox stay the coordinator's.

export type RuleEvent =
  /** A process's current run failed; `nodeUp`: its node service is online. */
  | { t: "process-failed"; processId: string; nodeUp: boolean }
  | { t: "process-started"; processId: string }
  /** The node answered a respawn-process command with a failure. */
  | { t: "respawn-failed"; processId: string }
  /** The process's node left (transient/down) or came back. */
  | { t: "process-node-down"; processId: string }
  | { t: "process-node-up"; processId: string }
  /** An operator stopped the process (drain): recovery ends. */
  | { t: "process-stopped"; processId: string }
  | { t: "node-silent"; nodeId: string }
  /** The node heartbeats or joins again. */
  | { t: "node-up"; nodeId: string }
  | { t: "node-drained"; nodeId: string };

export type Intent =
  /** `counted`: the attempt counts against the budget (it does not while the node is away). */
  | { do: "respawn-process"; processId: string; attempt: number; counted: boolean }
  | { do: "process-given-up"; processId: string }
  | { do: "node-transient"; nodeId: string }
  | { do: "respawn-node"; nodeId: string; attempt: number }
  | { do: "node-down"; nodeId: string };
