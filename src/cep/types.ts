/**
 * The data that crosses the engine's boundary: inputs, outputs, the engine state and its parts.
 * Everything here is plain JSON data.
 */

/**
 * One input is one transaction. `time` is logical time (for example the committed entry's
 * timestamp); it never goes backwards. An input without `event` is a tick: it only advances time,
 * so timers that fall due fire.
 */
export interface Input<E> {
  readonly time: number;
  readonly event?: E;
}

/** What happened to a rule instance that the engine had to drop to keep its bounds. */
export interface OverflowInfo {
  readonly reason: "instances" | "buffer";
  /** For "instances": the evicted instance's phase, local state and buffer length. */
  readonly phase?: string;
  readonly local?: unknown;
  /** For "buffer": the dropped buffered item. */
  readonly dropped?: BufferItem;
}

/** A rule or flow function threw: the transaction of that rule was discarded, nothing else. */
export interface ErrorInfo {
  readonly message: string;
  readonly during: "key" | "match" | "guard" | "handler" | "timer" | "flow";
}

interface OutputBase {
  /** Deterministic and unique: `${rule}/${key}/${seq}` with the engine's sequence number. */
  readonly id: string;
  /** The rule or flow that produced it. */
  readonly rule: string;
  /** The rule instance's key ("" for flows and unkeyed rules). */
  readonly key: string;
  /** Logical time at which it was produced (a timer's due time, or the input's time). */
  readonly time: number;
}

/** `kind: "emit"` is what a rule asked for; "overflow" and "error" are the engine's own events. */
export type Output<O> =
  | (OutputBase & { readonly kind: "emit"; readonly data: O })
  | (OutputBase & { readonly kind: "overflow"; readonly data: OverflowInfo })
  | (OutputBase & { readonly kind: "error"; readonly data: ErrorInfo });

export interface BufferItem {
  /** Logical time at which the item was buffered. */
  readonly t: number;
  readonly v: unknown;
}

/**
 * A pending timer. `due` and `seq` order timers that fall due together: earlier `seq` (creation
 * order) first; only these two are state. The other fields index the timer in the engine's
 * in-memory queue (where its queue entry is, which rule and instance it belongs to, whether it is
 * still pending); they are left out of snapshots and hashes and rebuilt on restore.
 */
export interface TimerState {
  due: number;
  seq: number;
  hd: number;
  hs: number;
  proc: number;
  key: string;
  name: string;
  live: boolean;
  /** On the engine's free list of records, for reuse. */
  pooled: boolean;
}

export interface InstanceState {
  phase: string;
  local: unknown;
  /** Sequence number at creation and at the last event or timer that reached this instance. */
  created: number;
  touched: number;
  /** Named timers started by handlers. */
  timers: Record<string, TimerState>;
  /** The current phase's timeout, when it has one. */
  timeout: TimerState | null;
  buffer: BufferItem[];
}

export interface RuleState {
  kind: "rule";
  version: number;
  global: unknown;
  /** How many instances exist (kept so that bounds are checked without counting keys). */
  count: number;
  instances: Record<string, InstanceState>;
}

export interface FlowState {
  kind: "flow";
  version: number;
  /** The values of the flow's stateful cells (hold, accum), in definition order. */
  cells: unknown[];
}

export type ProcessorState = RuleState | FlowState;

/** The whole engine state: plain data, serialisable, hashable. */
export interface EngineState {
  /** Logical time of the last input, or null before the first one. */
  time: number | null;
  /** The next sequence number: timers, instances and outputs are numbered from it. */
  seq: number;
  processors: Record<string, ProcessorState>;
}

export interface StepResult<O> {
  /** The same object that was passed in, updated (see Engine.step). */
  readonly state: EngineState;
  readonly outputs: readonly Output<O>[];
  /** Present when the step was called with `{ explain: true }`. */
  readonly trace?: readonly TraceEntry[];
}

/** One line of an explain trace: what one rule did (or why it did nothing) in one step. */
export interface TraceEntry {
  readonly rule: string;
  readonly key?: string;
  readonly time: number;
  /** "event", or the timer's name when a timer fell due. */
  readonly cause: string;
  readonly outcome:
    | "fired"
    | "no-key"
    | "no-match"
    | "guard-failed"
    | "timer-ignored"
    | "error"
    | "flow-fired"
    | "flow-quiet";
  /** The alternative that fired, or for "guard-failed" the first one whose guard failed. */
  readonly alternative?: string;
  readonly phase?: string;
  readonly nextPhase?: string;
  readonly created?: boolean;
  readonly ended?: boolean;
  readonly emitted?: number;
}
