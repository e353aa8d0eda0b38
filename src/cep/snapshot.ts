import { plainCopy } from "./canonical.js";
import { CepSnapshotError, describeError } from "./errors.js";
import type { Flow } from "./flow.js";
import { PHASE_TIMEOUT, type Rule } from "./rule.js";
import type { BufferItem, EngineState, InstanceState, ProcessorState, TimerState } from "./types.js";

export const SNAPSHOT_FORMAT = "halon-cep-snapshot";
export const SNAPSHOT_FORMAT_VERSION = 1;

export interface SnapshotTimer {
  readonly due: number;
  readonly seq: number;
}

export interface SnapshotInstance {
  readonly phase: string;
  readonly local: unknown;
  readonly created: number;
  readonly touched: number;
  readonly timers: Readonly<Record<string, SnapshotTimer>>;
  readonly timeout: SnapshotTimer | null;
  readonly buffer: readonly BufferItem[];
}

export interface SnapshotRule {
  readonly kind: "rule";
  readonly version: number;
  readonly global: unknown;
  readonly instances: Readonly<Record<string, SnapshotInstance>>;
}

export interface SnapshotFlow {
  readonly kind: "flow";
  readonly version: number;
  readonly cells: readonly unknown[];
}

/** The serialised engine state: canonical plain JSON, with a format version and per-rule versions. */
export interface Snapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly formatVersion: number;
  readonly time: number | null;
  readonly seq: number;
  readonly processors: Readonly<Record<string, SnapshotRule | SnapshotFlow>>;
}

// The event type only matters to the engine that runs the rules, not to restoring their state.
type AnyProcessor = Rule<never, unknown> | Flow<never, unknown>;

/**
 * The snapshot's content, sharing the state's values (no copy): the in-memory heap positions
 * of timers are left out, so equal logical states give equal views.
 */
export function snapshotView(state: EngineState, processors: readonly { readonly name: string }[]): Snapshot {
  const out: Record<string, SnapshotRule | SnapshotFlow> = {};
  for (const { name } of processors) {
    const ps = state.processors[name] as ProcessorState;
    if (ps.kind === "flow") {
      out[name] = { kind: "flow", version: ps.version, cells: ps.cells };
      continue;
    }
    const instances: Record<string, SnapshotInstance> = Object.create(null) as Record<
      string,
      SnapshotInstance
    >;
    for (const key of Object.keys(ps.instances)) {
      const inst = ps.instances[key] as InstanceState;
      const timers: Record<string, SnapshotTimer> = {};
      for (const t of Object.keys(inst.timers)) {
        const rec = inst.timers[t] as TimerState;
        timers[t] = { due: rec.due, seq: rec.seq };
      }
      const timeout = inst.timeout === null ? null : { due: inst.timeout.due, seq: inst.timeout.seq };
      instances[key] = { ...inst, timers, timeout };
    }
    out[name] = { kind: "rule", version: ps.version, global: ps.global, instances };
  }
  return {
    format: SNAPSHOT_FORMAT,
    formatVersion: SNAPSHOT_FORMAT_VERSION,
    time: state.time,
    seq: state.seq,
    processors: out,
  };
}

export function toSnapshot(state: EngineState, processors: readonly { readonly name: string }[]): Snapshot {
  return plainCopy(snapshotView(state, processors), "state");
}

/** Validates a snapshot, applies migrations, and builds an independent state from it. */
export function restoreState(input: unknown, processors: readonly AnyProcessor[]): EngineState {
  try {
    return readState(input, processors);
  } catch (err) {
    if (err instanceof CepSnapshotError) throw err;
    // Values that are not plain data, or anything else unforeseen: still a snapshot problem.
    throw new CepSnapshotError(`the snapshot cannot be restored: ${describeError(err)}`);
  }
}

function readState(input: unknown, processors: readonly AnyProcessor[]): EngineState {
  const snap = asRecord(input, "snapshot");
  if (snap.format !== SNAPSHOT_FORMAT)
    bad(`snapshot.format is ${JSON.stringify(snap.format)}, not "${SNAPSHOT_FORMAT}"`);
  if (snap.formatVersion !== SNAPSHOT_FORMAT_VERSION)
    bad(
      `snapshot.formatVersion ${String(snap.formatVersion)} is not supported (this library reads ${SNAPSHOT_FORMAT_VERSION})`,
    );
  const time = snap.time;
  if (time !== null && !isFiniteNumber(time)) bad("snapshot.time must be a finite number or null");
  const seq = snap.seq;
  if (!isCount(seq)) bad("snapshot.seq must be a non-negative integer");
  const stored = asRecord(snap.processors, "snapshot.processors");
  const names = new Set(processors.map((p) => p.name));
  for (const name of Object.keys(stored))
    if (!names.has(name)) bad(`the snapshot holds state for "${name}", which this engine does not define`);

  const result: Record<string, ProcessorState> = {};
  for (const p of processors) {
    const where = `snapshot.processors.${p.name}`;
    const ps = Object.hasOwn(stored, p.name) ? asRecord(stored[p.name], where) : undefined;
    if (ps !== undefined && ps.kind !== p.kind)
      bad(`${where}.kind is ${JSON.stringify(ps.kind)}, not "${p.kind}"`);
    result[p.name] = p.kind === "rule" ? restoreRule(p, ps, where, seq as number) : restoreFlow(p, ps, where);
  }
  return { time: time as number | null, seq: seq as number, processors: result };
}

function restoreRule(
  rule: Rule<never, unknown>,
  ps: Record<string, unknown> | undefined,
  where: string,
  seq: number,
): ProcessorState {
  if (ps === undefined)
    return {
      kind: "rule",
      version: rule.version,
      global: plainCopy(rule.initGlobal()),
      count: 0,
      instances: Object.create(null) as Record<string, InstanceState>,
    };
  const version = ps.version;
  if (!isCount(version) || (version as number) < 1) bad(`${where}.version must be a positive integer`);
  if ((version as number) > rule.version)
    bad(`${where}.version is ${String(version)}, newer than the rule's version ${rule.version}`);
  let global = plainCopy(ps.global, `${where}.global`);
  const rawInstances = asRecord(ps.instances, `${where}.instances`);
  const instances = Object.create(null) as Record<string, InstanceState>;
  let count = 0;
  for (const key of Object.keys(rawInstances)) {
    instances[key] = readInstance(rawInstances[key], `${where}.instances[${JSON.stringify(key)}]`, seq);
    count++;
  }
  for (let v = version as number; v < rule.version; v++) {
    const m = rule.migrations.find((x) => x.from === v);
    if (m === undefined)
      bad(`rule "${rule.name}": the snapshot has version ${v} and the rule declares no migration from it`);
    else {
      try {
        if (m.global !== undefined) global = plainCopy(m.global(global), `${where}.global`);
        for (const key of Object.keys(instances)) {
          const inst = instances[key] as InstanceState;
          if (m.local !== undefined)
            inst.local = plainCopy(m.local(inst.local, key), `${where}.instances.local`);
          if (m.phase !== undefined) inst.phase = m.phase(inst.phase);
        }
      } catch (err) {
        if (err instanceof CepSnapshotError) throw err;
        bad(`rule "${rule.name}": migration from version ${v} failed: ${describeError(err)}`);
      }
    }
  }
  for (const key of Object.keys(instances)) {
    const inst = instances[key] as InstanceState;
    const phase = rule.phases[inst.phase];
    if (phase === undefined || phase.final)
      bad(
        `rule "${rule.name}", instance ${JSON.stringify(key)}: "${inst.phase}" is not a live phase of the rule`,
      );
  }
  return { kind: "rule", version: rule.version, global, count, instances };
}

function readInstance(raw: unknown, where: string, seq: number): InstanceState {
  const r = asRecord(raw, where);
  if (typeof r.phase !== "string") bad(`${where}.phase must be a string`);
  for (const f of ["created", "touched"] as const)
    if (!isCount(r[f]) || (r[f] as number) >= seq) bad(`${where}.${f} must be an integer below snapshot.seq`);
  const timersIn = asRecord(r.timers, `${where}.timers`);
  const timers: Record<string, TimerState> = {};
  for (const name of Object.keys(timersIn)) {
    const t = asRecord(timersIn[name], `${where}.timers.${name}`);
    if (!isFiniteNumber(t.due)) bad(`${where}.timers.${name}.due must be a finite number`);
    if (!isCount(t.seq) || (t.seq as number) >= seq)
      bad(`${where}.timers.${name}.seq must be an integer below snapshot.seq`);
    timers[name] = indexedTimer(t.due as number, t.seq as number, name);
  }
  let timeout: TimerState | null = null;
  if (r.timeout !== null && r.timeout !== undefined) {
    const t = asRecord(r.timeout, `${where}.timeout`);
    if (!isFiniteNumber(t.due)) bad(`${where}.timeout.due must be a finite number`);
    if (!isCount(t.seq) || (t.seq as number) >= seq)
      bad(`${where}.timeout.seq must be an integer below snapshot.seq`);
    timeout = indexedTimer(t.due as number, t.seq as number, PHASE_TIMEOUT);
  }
  if (!Array.isArray(r.buffer)) bad(`${where}.buffer must be an array`);
  const buffer = (r.buffer as unknown[]).map((item, i) => {
    const b = asRecord(item, `${where}.buffer[${i}]`);
    if (!isFiniteNumber(b.t)) bad(`${where}.buffer[${i}].t must be a finite number`);
    return { t: b.t as number, v: plainCopy(b.v, `${where}.buffer[${i}].v`) };
  });
  return {
    phase: r.phase as string,
    local: plainCopy(r.local, `${where}.local`),
    created: r.created as number,
    touched: r.touched as number,
    timers,
    timeout,
    buffer,
  };
}

function restoreFlow(
  flow: Flow<never, unknown>,
  ps: Record<string, unknown> | undefined,
  where: string,
): ProcessorState {
  const initial = flow.initialCells();
  if (ps === undefined) return { kind: "flow", version: flow.version, cells: initial };
  const version = ps.version;
  if (!isCount(version) || (version as number) < 1) bad(`${where}.version must be a positive integer`);
  if ((version as number) > flow.version)
    bad(`${where}.version is ${String(version)}, newer than the flow's ${flow.version}`);
  if (!Array.isArray(ps.cells)) bad(`${where}.cells must be an array`);
  let cells = plainCopy(ps.cells as unknown[], `${where}.cells`);
  if (version !== flow.version) {
    if (flow.migrate === undefined)
      bad(`flow "${flow.name}": the snapshot has version ${String(version)} and the flow has no migrate`);
    else {
      try {
        cells = plainCopy(flow.migrate(cells, version as number), `${where}.cells`);
      } catch (err) {
        if (err instanceof CepSnapshotError) throw err;
        bad(`flow "${flow.name}": migration from version ${String(version)} failed: ${describeError(err)}`);
      }
    }
  }
  if (!Array.isArray(cells) || cells.length !== initial.length)
    bad(`${where}.cells must hold ${initial.length} values, the flow's cells`);
  return { kind: "flow", version: flow.version, cells };
}

function bad(message: string): never {
  throw new CepSnapshotError(message);
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) bad(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function isFiniteNumber(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v);
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** The engine fills in `proc` and `key` when it builds its timer queue from the restored state. */
function indexedTimer(due: number, seq: number, name: string): TimerState {
  return { due, seq, hd: due, hs: seq, proc: -1, key: "", name, live: true, pooled: false };
}
