import { CepDefinitionError } from "./errors.js";
import type { PhaseSpec, RuleContext, RuleMigration, RuleSpec } from "./rule-spec.js";

/** The timer name that carries a phase's timeout. User timer names may not start with "$". */
export const PHASE_TIMEOUT = "$timeout";

export const DEFAULT_MAX_INSTANCES = 100_000;
export const DEFAULT_MAX_BUFFER = 10_000;

// The engine calls handlers without knowing a rule's L, G and P; the spec's types were checked
// where the rule was written, so inside the engine they are erased to these shapes.
type AnyContext = RuleContext<unknown, unknown, unknown, string>;

/** One alternative of a phase, normalised: an event or a timer alternative. */
export interface CompiledAlternative {
  readonly name: string;
  /** Set for event alternatives. */
  readonly when: ((event: unknown) => boolean) | undefined;
  /** Set for timer alternatives (PHASE_TIMEOUT for the phase timeout). */
  readonly timer: string | undefined;
  readonly guard: ((ctx: AnyContext, event: unknown) => boolean) | undefined;
  readonly then: ((ctx: AnyContext, event: unknown) => void) | undefined;
  /** The phase to move to when the handler does not choose (only for a single `goto`). */
  readonly autoGoto: string | undefined;
  /** The phase `autoGoto` names, resolved once the rule is compiled (saves a lookup per event). */
  readonly autoPhase: CompiledPhase | undefined;
  /** Every phase the handler may choose with ctx.goto. */
  readonly targets: readonly string[];
}

export interface CompiledPhase {
  readonly name: string;
  readonly final: boolean;
  readonly events: readonly CompiledAlternative[];
  /** Timer alternatives by timer name, each list in declaration order. */
  readonly timers: Readonly<Record<string, readonly CompiledAlternative[]>>;
  readonly timeoutAfter: number | ((ctx: AnyContext) => number) | undefined;
}

/** A validated rule, ready for an Engine. E and O only tie it to an engine's event and output types. */
export interface Rule<E, O> {
  readonly kind: "rule";
  readonly name: string;
  readonly version: number;
  readonly key: (event: E) => string | undefined;
  readonly initial: string;
  readonly phases: Readonly<Record<string, CompiledPhase>>;
  /** The same phases in an array: the engine's lookup by name on the hot path (see phaseNamed). */
  readonly phaseList: readonly CompiledPhase[];
  readonly initLocal: (key: string) => unknown;
  readonly initGlobal: () => unknown;
  readonly maxInstances: number;
  readonly maxBuffer: number;
  readonly migrations: readonly RuleMigration[];
  /** Phantom: never set, only carries O for type checking. */
  readonly __output?: O;
}

/**
 * The phase of `rule` named `name`, or undefined. A scan rather than a Map: rules have a few
 * phases, and the names compared are mostly the very strings the rule was compiled with, so each
 * comparison is one pointer check where a Map lookup hashes and probes.
 */
export function phaseNamed(
  rule: { readonly phaseList: readonly CompiledPhase[] },
  name: string,
): CompiledPhase | undefined {
  const list = rule.phaseList;
  for (let i = 0; i < list.length; i++) {
    const phase = list[i] as CompiledPhase;
    if (phase.name === name) return phase;
  }
  return undefined;
}

/**
 * Validates and compiles a rule. Everything that can be checked without running it is checked
 * here, so that a broken rule fails when the program starts rather than when an event arrives.
 */
export function defineRule<E, O, L, G = undefined, P extends string = string>(
  spec: RuleSpec<E, O, L, G, P>,
): Rule<E, O> {
  const fail = (msg: string): never => {
    throw new CepDefinitionError(`rule "${String(spec?.name)}": ${msg}`);
  };
  if (spec === null || typeof spec !== "object")
    throw new CepDefinitionError("a rule spec must be an object");
  if (typeof spec.name !== "string" || spec.name.length === 0) fail("name must be a non-empty string");
  if (spec.name.includes("/")) fail('name may not contain "/" (it separates the parts of output ids)');
  const version = spec.version ?? 1;
  if (!Number.isSafeInteger(version) || version < 1) fail("version must be a positive integer");
  if (typeof spec.key !== "function") fail("key must be a function from an event to a key or undefined");
  if (typeof spec.local !== "function")
    fail("local must be a function from a key to the initial local state");
  if (spec.global !== undefined && typeof spec.global !== "function") fail("global must be a function");
  if (spec.phases === null || typeof spec.phases !== "object") fail("phases must be an object");
  const phaseSpecs = spec.phases as Record<string, PhaseSpec<E, O, L, G, P>>;
  const phaseNames = Object.keys(phaseSpecs);
  if (phaseNames.length === 0) fail("it needs at least one phase");
  if (!Object.hasOwn(phaseSpecs, spec.initial))
    fail(`initial phase "${String(spec.initial)}" is not a phase`);

  const phases: Record<string, CompiledPhase> = {};
  for (const name of phaseNames) phases[name] = compilePhase(name, phaseSpecs[name], phaseSpecs, fail);

  for (const phase of Object.values(phases))
    for (const alt of [...phase.events, ...Object.values(phase.timers).flat()])
      if (alt.autoGoto !== undefined) (alt as { autoPhase?: CompiledPhase }).autoPhase = phases[alt.autoGoto];

  const initial = phases[spec.initial] as CompiledPhase;
  if (initial.final) fail(`initial phase "${spec.initial}" cannot be final`);
  if (initial.events.length === 0)
    fail(`initial phase "${spec.initial}" needs an event alternative: instances are created by events`);
  checkExits(phases, fail);
  checkReachable(phases, spec.initial, fail);

  const maxInstances = spec.bounds?.maxInstances ?? DEFAULT_MAX_INSTANCES;
  const maxBuffer = spec.bounds?.maxBuffer ?? DEFAULT_MAX_BUFFER;
  if (!Number.isSafeInteger(maxInstances) || maxInstances < 1)
    fail("bounds.maxInstances must be a positive integer");
  if (!Number.isSafeInteger(maxBuffer) || maxBuffer < 1) fail("bounds.maxBuffer must be a positive integer");

  const migrations = [...(spec.migrations ?? [])];
  const seen = new Set<number>();
  for (const m of migrations) {
    if (!Number.isSafeInteger(m.from) || m.from < 1 || m.from >= version)
      fail(`migration from ${m.from}: "from" must be an integer between 1 and ${version - 1}`);
    if (seen.has(m.from)) fail(`two migrations from version ${m.from}`);
    seen.add(m.from);
  }

  const initGlobal = spec.global ?? (() => null);
  return Object.freeze({
    kind: "rule" as const,
    name: spec.name,
    version,
    key: spec.key,
    initial: spec.initial,
    phases,
    phaseList: Object.values(phases),
    initLocal: spec.local as (key: string) => unknown,
    initGlobal: initGlobal as () => unknown,
    maxInstances,
    maxBuffer,
    migrations,
  });
}

function compilePhase<E, O, L, G, P extends string>(
  name: string,
  spec: PhaseSpec<E, O, L, G, P> | undefined,
  all: Record<string, unknown>,
  fail: (msg: string) => never,
): CompiledPhase {
  if (spec === null || typeof spec !== "object") return fail(`phase "${name}" must be an object`);
  const final = spec.final === true;
  const eventSpecs = spec.on ?? [];
  const timerSpecs = spec.timers ?? [];
  if (!Array.isArray(eventSpecs)) fail(`phase "${name}": "on" must be a list of event alternatives`);
  if (!Array.isArray(timerSpecs)) fail(`phase "${name}": "timers" must be a list of timer alternatives`);
  if (final && (eventSpecs.length > 0 || timerSpecs.length > 0 || spec.timeout !== undefined))
    fail(`phase "${name}" is final (it ends the instance), so it cannot wait for events or timers`);

  const targetsOf = (
    what: string,
    goto: unknown,
  ): { autoGoto: string | undefined; autoPhase: CompiledPhase | undefined; targets: string[] } => {
    if (goto === undefined) return { autoGoto: undefined, autoPhase: undefined, targets: [] };
    const list = typeof goto === "string" ? [goto] : Array.isArray(goto) ? (goto as unknown[]) : undefined;
    if (list === undefined)
      return fail(`phase "${name}", ${what}: goto must be a phase name or a list of them`);
    for (const t of list)
      if (typeof t !== "string" || !Object.hasOwn(all, t))
        fail(`phase "${name}", ${what}: goto "${String(t)}" is not a phase`);
    return {
      autoGoto: typeof goto === "string" ? goto : undefined,
      autoPhase: undefined as CompiledPhase | undefined, // linked once every phase is compiled
      targets: list as string[],
    };
  };
  const optionalFn = (what: string, field: string, f: unknown): void => {
    if (f !== undefined && typeof f !== "function")
      fail(`phase "${name}", ${what}: ${field} must be a function`);
  };
  const common = (alt: { guard?: unknown; then?: unknown; goto?: unknown }, label: string) => {
    const what = `alternative "${label}"`;
    optionalFn(what, "guard", alt.guard);
    optionalFn(what, "then", alt.then);
    return {
      name: label,
      guard: alt.guard as CompiledAlternative["guard"],
      then: alt.then as CompiledAlternative["then"],
      ...targetsOf(what, alt.goto),
    };
  };

  const events: CompiledAlternative[] = eventSpecs.map((alt, i) => {
    if (alt === null || typeof alt !== "object")
      fail(`phase "${name}": event alternative ${i} must be an object`);
    const label = alt.name ?? `${name}#${i}`;
    if (typeof alt.when !== "function")
      fail(`phase "${name}", alternative "${label}": when must be a function`);
    return { ...common(alt, label), when: alt.when as (e: unknown) => boolean, timer: undefined };
  });
  const timers: Record<string, CompiledAlternative[]> = {};
  timerSpecs.forEach((alt, i) => {
    if (alt === null || typeof alt !== "object")
      fail(`phase "${name}": timer alternative ${i} must be an object`);
    const label = alt.name ?? `${name}#timer${i}`;
    if (
      typeof alt.timer !== "string" ||
      alt.timer.length === 0 ||
      alt.timer.startsWith("$") ||
      alt.timer === "__proto__"
    )
      fail(`phase "${name}", alternative "${label}": timer must be a non-empty name not starting with "$"`);
    (timers[alt.timer] ??= []).push({ ...common(alt, label), when: undefined, timer: alt.timer });
  });

  let timeoutAfter: CompiledPhase["timeoutAfter"];
  if (spec.timeout !== undefined) {
    const t = spec.timeout;
    const label = t.name ?? `${name}#timeout`;
    const after = t.after;
    if (typeof after === "number") {
      if (!Number.isFinite(after) || after <= 0)
        fail(`phase "${name}": timeout.after must be a positive number`);
    } else if (typeof after !== "function") {
      fail(`phase "${name}": timeout.after must be a positive number or a function returning one`);
    }
    optionalFn("timeout", "guard", t.guard);
    optionalFn("timeout", "then", t.then);
    const { autoGoto, autoPhase, targets } = targetsOf("timeout", t.goto);
    timeoutAfter = after as CompiledPhase["timeoutAfter"];
    timers[PHASE_TIMEOUT] = [
      {
        name: label,
        when: undefined,
        timer: PHASE_TIMEOUT,
        guard: t.guard as CompiledAlternative["guard"],
        then: t.then as CompiledAlternative["then"],
        autoGoto,
        autoPhase,
        targets,
      },
    ];
  }
  return { name, final, events, timers, timeoutAfter };
}

/** Every non-final phase must have some alternative or timeout that leads to another phase. */
function checkExits(phases: Record<string, CompiledPhase>, fail: (msg: string) => never): void {
  for (const phase of Object.values(phases)) {
    if (phase.final) continue;
    const all = [...phase.events, ...Object.values(phase.timers).flat()];
    if (!all.some((alt) => alt.targets.some((t) => t !== phase.name)))
      fail(
        `phase "${phase.name}" has no exit: neither an event nor a timeout leads out of it ` +
          `(give an alternative or a timeout a goto to another phase, or mark the phase final)`,
      );
  }
}

function checkReachable(
  phases: Record<string, CompiledPhase>,
  initial: string,
  fail: (msg: string) => never,
): void {
  const reached = new Set([initial]);
  const queue = [initial];
  while (queue.length > 0) {
    const phase = phases[queue.pop() as string] as CompiledPhase;
    for (const alt of [...phase.events, ...Object.values(phase.timers).flat()])
      for (const t of alt.targets)
        if (!reached.has(t)) {
          reached.add(t);
          queue.push(t);
        }
  }
  const unreachable = Object.keys(phases).filter((p) => !reached.has(p));
  if (unreachable.length > 0)
    fail(`phase(s) ${unreachable.map((p) => `"${p}"`).join(", ")} cannot be reached`);
}
