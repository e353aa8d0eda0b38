import { CepDefinitionError } from "./errors.js";
import { defineRule, type Rule } from "./rule.js";
import type { RuleBounds } from "./rule-spec.js";
import type { BufferItem } from "./types.js";

/**
 * Common temporal patterns, each compiled to an ordinary keyed rule: they get bounds, snapshots,
 * explain traces and deterministic ids like any rule written by hand. Every pattern is keyed
 * (`key` returns undefined for events it ignores); give a constant key for a global pattern.
 */

interface PatternBase<E> {
  readonly name: string;
  readonly key: (event: E) => string | undefined;
  readonly bounds?: RuleBounds;
}

export interface SequenceSpec<E, O> extends PatternBase<E> {
  readonly first: (event: E) => boolean;
  readonly then: (event: E) => boolean;
  /** `then` must come strictly less than `within` after `first` (a deadline at t excludes t). */
  readonly within: number;
  /** A later `first` while waiting restarts the window from it (default) or is ignored. */
  readonly restart?: boolean;
  readonly emit: (first: E, then: E, key: string, time: number) => O;
}

/** "a then b within t": emits when `then` follows `first` for the same key within the window. */
export function sequence<E, O>(spec: SequenceSpec<E, O>): Rule<E, O> {
  const restart = spec.restart ?? true;
  return defineRule<E, O, E | null, undefined, "start" | "waiting" | "done">({
    name: spec.name,
    key: spec.key,
    local: () => null,
    bounds: spec.bounds,
    initial: "start",
    phases: {
      start: {
        on: [{ name: "first", when: spec.first, goto: "waiting", then: (ctx, e) => void (ctx.local = e) }],
      },
      waiting: {
        on: [
          {
            name: "then",
            when: spec.then,
            goto: "done",
            then: (ctx, e) => ctx.emit(spec.emit(ctx.local as E, e, ctx.key, ctx.time)),
          },
          ...(restart
            ? [
                {
                  name: "first again",
                  when: spec.first,
                  goto: "waiting" as const,
                  then: (ctx: { local: E | null }, e: E) => void (ctx.local = e),
                },
              ]
            : []),
        ],
        timeout: { name: "window closed", after: windowTime(spec.name, spec.within), goto: "done" },
      },
      done: { final: true },
    },
  });
}

export interface AbsenceSpec<E, O> extends PatternBase<E> {
  readonly first: (event: E) => boolean;
  readonly missing: (event: E) => boolean;
  readonly within: number;
  /** Emitted when `within` passes after `first` without `missing`. */
  readonly emit: (first: E, key: string, time: number) => O;
}

/** "a not followed by b within t": emits at the deadline when `missing` did not come. */
export function absence<E, O>(spec: AbsenceSpec<E, O>): Rule<E, O> {
  return defineRule<E, O, E | null, undefined, "start" | "waiting" | "done">({
    name: spec.name,
    key: spec.key,
    local: () => null,
    bounds: spec.bounds,
    initial: "start",
    phases: {
      start: {
        on: [{ name: "first", when: spec.first, goto: "waiting", then: (ctx, e) => void (ctx.local = e) }],
      },
      waiting: {
        on: [{ name: "arrived", when: spec.missing, goto: "done" }],
        timeout: {
          name: "deadline",
          after: windowTime(spec.name, spec.within),
          goto: "done",
          then: (ctx) => ctx.emit(spec.emit(ctx.local as E, ctx.key, ctx.time)),
        },
      },
      done: { final: true },
    },
  });
}

export interface CountingSpec<E, O> extends PatternBase<E> {
  readonly match: (event: E) => boolean;
  /** Emit when `count` matching events fall within a span strictly shorter than `within`. */
  readonly count: number;
  readonly within: number;
  /** Gets the times of the counted events; the count starts again after an emit. */
  readonly emit: (times: readonly number[], key: string, time: number) => O;
}

/** "n occurrences within t". Buffers at most `count` timestamps per key. */
export function counting<E, O>(spec: CountingSpec<E, O>): Rule<E, O> {
  if (!Number.isSafeInteger(spec.count) || spec.count < 1)
    throw badPattern(spec.name, "count must be a positive integer");
  const within = windowTime(spec.name, spec.within);
  return defineRule<E, O, null, undefined, "counting" | "done">({
    name: spec.name,
    key: spec.key,
    local: () => null,
    bounds: { ...spec.bounds, maxBuffer: spec.bounds?.maxBuffer ?? spec.count },
    initial: "counting",
    phases: {
      counting: {
        on: [
          {
            name: "occurrence",
            when: spec.match,
            goto: "counting", // restarts the quiet timeout below
            then: (ctx) => {
              ctx.dropUntil(ctx.time - within);
              ctx.push(null);
              if (ctx.buffer.length >= spec.count) {
                ctx.emit(
                  spec.emit(
                    ctx.buffer.map((b) => b.t),
                    ctx.key,
                    ctx.time,
                  ),
                );
                ctx.clearBuffer();
              }
            },
          },
        ],
        // After `within` without an occurrence every buffered one has expired: end the instance.
        timeout: { name: "quiet", after: within, goto: "done" },
      },
      done: { final: true },
    },
  });
}

export interface WindowSpec<E, V, A, O> extends PatternBase<E> {
  readonly match: (event: E) => boolean;
  readonly value: (event: E) => V;
  /** Window length in logical time. */
  readonly size: number;
  readonly aggregate: (values: readonly V[]) => A;
  /** Return undefined to emit nothing for this window. */
  readonly emit: (aggregate: A, key: string, time: number) => O | undefined;
}

/**
 * Sliding window: at each matching event, aggregates the values in (now - size, now] (the event
 * included) and emits. Buffered values are bounded by `bounds.maxBuffer`.
 */
export function slidingWindow<E, V, A, O>(spec: WindowSpec<E, V, A, O>): Rule<E, O> {
  const size = windowTime(spec.name, spec.size);
  return defineRule<E, O, null, undefined, "open" | "done">({
    name: spec.name,
    key: spec.key,
    local: () => null,
    bounds: spec.bounds,
    initial: "open",
    phases: {
      open: {
        on: [
          {
            name: "value",
            when: spec.match,
            goto: "open",
            then: (ctx, e) => {
              ctx.dropUntil(ctx.time - size);
              ctx.push(spec.value(e));
              const out = spec.emit(spec.aggregate(values<V>(ctx.buffer)), ctx.key, ctx.time);
              if (out !== undefined) ctx.emit(out);
            },
          },
        ],
        timeout: { name: "empty", after: size, goto: "done" },
      },
      done: { final: true },
    },
  });
}

/**
 * Tumbling window: windows [k·size, (k+1)·size) per key. When a window that saw events closes,
 * its aggregate is emitted (at the window's end time). Empty windows emit nothing.
 */
export function tumblingWindow<E, V, A, O>(spec: WindowSpec<E, V, A, O>): Rule<E, O> {
  const size = windowTime(spec.name, spec.size);
  return defineRule<E, O, null, undefined, "open" | "done">({
    name: spec.name,
    key: spec.key,
    local: () => null,
    bounds: spec.bounds,
    initial: "open",
    phases: {
      open: {
        on: [{ name: "value", when: spec.match, then: (ctx, e) => ctx.push(spec.value(e)) }],
        timeout: {
          name: "window end",
          // Evaluated when the instance opens: the time left until the end of its window.
          after: (ctx) => (Math.floor(ctx.time / size) + 1) * size - ctx.time,
          goto: "done",
          then: (ctx) => {
            const out = spec.emit(spec.aggregate(values<V>(ctx.buffer)), ctx.key, ctx.time);
            if (out !== undefined) ctx.emit(out);
          },
        },
      },
      done: { final: true },
    },
  });
}

function values<V>(buffer: readonly BufferItem[]): V[] {
  const out: V[] = new Array<V>(buffer.length);
  for (let i = 0; i < buffer.length; i++) out[i] = (buffer[i] as BufferItem).v as V;
  return out;
}

function windowTime(name: string, t: number): number {
  if (typeof t !== "number" || !Number.isFinite(t) || t <= 0)
    throw badPattern(name, "a window must be a positive number");
  return t;
}

function badPattern(name: string, msg: string): Error {
  return new CepDefinitionError(`pattern "${name}": ${msg}`);
}
