import type { BufferItem } from "./types.js";

/**
 * What a rule's handlers and guards see and may do. One context object is reused for every call,
 * so keep no reference to it after the call returns.
 *
 * Effects (emit, goto, timers, new `local`/`global`) take effect only when the handler returns
 * normally; if it throws, the engine discards them and reports an "error" output instead. Treat
 * `local` and `global` as immutable values: assign a new value rather than mutating the old one.
 */
export interface RuleContext<O, L, G, P extends string> {
  readonly rule: string;
  readonly key: string;
  /** Logical time of this transaction (a timer's due time, or the input's time). */
  readonly time: number;
  readonly phase: P;
  /** This instance's state. Assign to replace it. */
  local: L;
  /** The rule's state shared by all its instances. Assign to replace it. */
  global: G;
  /** This instance's buffered items, oldest first (bounded by `bounds.maxBuffer`). */
  readonly buffer: readonly BufferItem[];
  /** Produce an output; its id is derived from the rule, the key and the engine's sequence. */
  emit(data: O): void;
  /** Move to a phase; it must be one of the alternative's declared `goto` targets. */
  goto(phase: P): void;
  /** Start (or restart) a named timer that falls due `after` time units from now. */
  startTimer(name: string, after: number): void;
  cancelTimer(name: string): void;
  hasTimer(name: string): boolean;
  /** Append to the buffer; when it is full the oldest item is dropped and reported as overflow. */
  push(value: unknown): void;
  /** Drop buffered items older than `time` (strictly before it). */
  dropBefore(time: number): void;
  /** Drop buffered items at or before `time`. */
  dropUntil(time: number): void;
  clearBuffer(): void;
}

export type Handler<E, O, L, G, P extends string> = (ctx: RuleContext<O, L, G, P>, event: E) => void;
export type TimerHandler<O, L, G, P extends string> = (ctx: RuleContext<O, L, G, P>) => void;

/** Reacts to an input event whose `when` accepts it and whose `guard` (if any) passes. */
export interface EventAlternative<E, O, L, G, P extends string> {
  /** Shown in explain traces; defaults to "<phase>#<index>". */
  readonly name?: string;
  readonly when: (event: E) => boolean;
  readonly guard?: (ctx: RuleContext<O, L, G, P>, event: E) => boolean;
  /**
   * A phase name: the instance moves there after the handler (re-entering the same phase
   * restarts its timeout). A list: the handler picks one with `ctx.goto`, or stays.
   */
  readonly goto?: NoInfer<P> | readonly NoInfer<P>[];
  readonly then?: Handler<E, O, L, G, P>;
}

/** Reacts to a named timer (started with `ctx.startTimer`) falling due in this phase. */
export interface TimerAlternative<O, L, G, P extends string> {
  readonly name?: string;
  readonly timer: string;
  readonly guard?: (ctx: RuleContext<O, L, G, P>) => boolean;
  readonly goto?: NoInfer<P> | readonly NoInfer<P>[];
  readonly then?: TimerHandler<O, L, G, P>;
}

/** Started on entering the phase, cancelled on leaving it. */
export interface PhaseTimeout<O, L, G, P extends string> {
  readonly name?: string;
  /** A positive delay, or a function of the context evaluated on entering the phase. */
  readonly after: number | ((ctx: RuleContext<O, L, G, P>) => number);
  readonly guard?: (ctx: RuleContext<O, L, G, P>) => boolean;
  readonly goto?: NoInfer<P> | readonly NoInfer<P>[];
  readonly then?: TimerHandler<O, L, G, P>;
}

export interface PhaseSpec<E, O, L, G, P extends string> {
  /** Entering a final phase ends the instance: it is removed with its timers and buffer. */
  readonly final?: boolean;
  /** Event alternatives, tried in order: the first whose `when` and `guard` accept fires. */
  readonly on?: readonly EventAlternative<E, O, L, G, P>[];
  /** Named-timer alternatives; for each timer, those naming it are tried in order. */
  readonly timers?: readonly TimerAlternative<O, L, G, P>[];
  readonly timeout?: PhaseTimeout<O, L, G, P>;
}

/** Turns version `from` of this rule's state into version `from + 1`. */
export interface RuleMigration {
  readonly from: number;
  readonly local?: (old: unknown, key: string) => unknown;
  readonly global?: (old: unknown) => unknown;
  /** Renames phases; the result must be a phase of the new version. */
  readonly phase?: (old: string) => string;
}

export interface RuleBounds {
  /** Instances alive at once; beyond it the least recently active one is evicted. Default 100000. */
  readonly maxInstances?: number;
  /** Items in one instance's buffer; beyond it the oldest is dropped. Default 10000. */
  readonly maxBuffer?: number;
}

export interface RuleSpec<E, O, L, G, P extends string> {
  /** Unique within an engine; no "/" (it separates the parts of output ids). */
  readonly name: string;
  /** Version of this rule's state layout; default 1. Raise it together with a migration. */
  readonly version?: number;
  /** The instance an event belongs to, or undefined when the event is not for this rule. */
  readonly key: (event: E) => string | undefined;
  /** An instance is created when an event for a new key fires an alternative of this phase. */
  readonly initial: NoInfer<P>;
  readonly phases: { readonly [K in P]: PhaseSpec<E, O, L, G, P> };
  /** Initial local state of a new instance. */
  readonly local: (key: string) => L;
  /** Initial rule-wide state. */
  readonly global?: () => G;
  readonly bounds?: RuleBounds;
  readonly migrations?: readonly RuleMigration[];
}
