// The recovery coordinator: domain events and commands, the CEP rules, and
// the state machine that the Raft library applies on every replica.
export {
  DEFAULT_RC_CONFIG,
  KNOWN_RULES_VERSIONS,
  backoffDelay,
  type Backoff,
  type RcConfig,
} from "./config.js";
export { RcRejection, type DomainEvent, type Rejection, type RejectionCode } from "./domain.js";
export {
  decodeApplyResult,
  encodeEventBatch,
  encodeRulesVersion,
  encodeStateCheck,
  encodeTick,
  makeEvent,
} from "./entry.js";
export { StateCapture, type CapturedState } from "./state-capture.js";
export { RcStateMachine, type RcStateMachineOptions, type StateCheckSeen } from "./state-machine.js";
export { RcSnapshotError, type RcStateData } from "./snapshot-data.js";
export { CLUSTER_ID } from "./topology.js";
export { BROADCAST } from "./epochs.js";
export { BOUNDS, validateEvent } from "./validate.js";
export { RULE_NAMES } from "./rules/runner.js";
export { FailureDetector, type FailureDetectorConfig } from "./leader/failure-detector.js";
export {
  DEFAULT_LEADER_LOOP,
  LeaderLoop,
  type DeliveryOutcome,
  type LeaderLoopConfig,
  type LeaderLoopOptions,
  type LoopEffect,
  type LoopLog,
  type MachineView,
  type ProposeOutcome,
} from "./leader/leader-loop.js";
export { topologyPresent } from "./leader/topology-check.js";
export {
  History,
  causeLine,
  changeLine,
  commandLine,
  stepLines,
  DEFAULT_HISTORY_ITEMS,
  type Explanation,
  type HistoryItem,
} from "./history.js";
export type { EntryTrace, CauseTrace, RuleStepTrace, TraceCause } from "./trace.js";
