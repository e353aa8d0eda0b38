/**
 * The CEP library: pure, deterministic event processing with snapshots. It imports nothing of
 * Halon; see docs/cep.md.
 */
export * from "./types.js";
export * from "./errors.js";
export type * from "./rule-spec.js";
export { defineRule, PHASE_TIMEOUT, DEFAULT_MAX_BUFFER, DEFAULT_MAX_INSTANCES } from "./rule.js";
export type { Rule, CompiledAlternative, CompiledPhase } from "./rule.js";
export { defineFlow, mergeAll, Stream, Cell, StatefulCell, FlowBuilder } from "./flow.js";
export type { Flow, FlowOptions } from "./flow.js";
export { Engine } from "./engine.js";
export type { EngineOptions, Processor, StepOptions } from "./engine.js";
export { SNAPSHOT_FORMAT, SNAPSHOT_FORMAT_VERSION } from "./snapshot.js";
export type { Snapshot, SnapshotFlow, SnapshotInstance, SnapshotRule, SnapshotTimer } from "./snapshot.js";
export { canonicalJson, canonicalHash, plainCopy } from "./canonical.js";
export { rulesFor } from "./rules-for.js";
export { sequence, absence, counting, slidingWindow, tumblingWindow } from "./patterns.js";
export type { SequenceSpec, AbsenceSpec, CountingSpec, WindowSpec } from "./patterns.js";
export { scenario, Scenario } from "./testing.js";
export type { ScenarioOptions } from "./testing.js";
