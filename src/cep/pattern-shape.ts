/**
 * The shape of a two-step pattern (sequence, absence): "first", then wait in one phase for "next"
 * or for a fixed deadline. `patterns.ts` builds such patterns as ordinary rules, and also records
 * their shape here, so that the engine can run them on a compiled path (see pattern-path.ts)
 * instead of through phases, alternatives and a handler context. The rule stays the reference:
 * the compiled path makes exactly the state changes and outputs the rule would.
 */
export interface PatternShape {
  /** The phase an instance waits in; the rule's initial phase only ever creates instances. */
  readonly waiting: string;
  readonly first: (event: unknown) => boolean;
  /** Sequence: the awaited event. Absence: the event whose arrival cancels the deadline. */
  readonly next: (event: unknown) => boolean;
  /** Whether a later `first` while waiting restarts the window from it (sequence only). */
  readonly restart: boolean;
  /** The waiting phase's timeout: a positive number (validated when the pattern is defined). */
  readonly within: number;
  /** Sequence: the output when `next` arrives in time. */
  readonly onNext: ((first: unknown, next: unknown, key: string, time: number) => unknown) | undefined;
  /** Absence: the output at the deadline. */
  readonly onDeadline: ((first: unknown, key: string, time: number) => unknown) | undefined;
}

// Keyed by the frozen rule object: nothing is added to the rule itself, whose type is public.
const shapes = new WeakMap<object, PatternShape>();

export function recordShape(rule: object, shape: PatternShape): void {
  shapes.set(rule, shape);
}

export function shapeOf(rule: object): PatternShape | undefined {
  return shapes.get(rule);
}
