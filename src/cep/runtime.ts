import { CepInputError } from "./errors.js";
import { MinHeap } from "../util/heap.js";
import { PHASE_TIMEOUT } from "./rule.js";
import { TimerQueue } from "./timer-queue.js";
import type {
  EngineState,
  InstanceState,
  ProcessorState,
  RuleState,
  StepResult,
  TimerState,
} from "./types.js";

/**
 * The engine's indexes over one state: its timer queue and eviction queues. They are derived from
 * the state, never serialised, and rebuilt whenever an engine first sees a state object. Every
 * decision they support (which timer fires next, which instance is evicted) depends only on the
 * state's own numbers, so a rebuilt index decides exactly as the one it replaces.
 */
export interface Runtime {
  /** state.processors by processor index (the objects are updated in place, never replaced). */
  states: ProcessorState[];
  timers: TimerQueue<TimerState>;
  liveTimers: number;
  /** Per rule, built the first time the rule reaches its instance bound. */
  evict: (MinHeap<EvictEntry> | undefined)[];
  /**
   * Timer records no longer in the state, for reuse. A record may still be named by old queue
   * entries; those never match it again, because sequence numbers are never reused.
   */
  free: TimerState[];
  /** The result of a step without outputs, shared (frozen) by all such steps of this state. */
  quiet?: StepResult<never>;
}

interface EvictEntry {
  touched: number;
  key: string;
}

/** New instances share one empty timer table until their first named timer. */
export const NO_TIMERS: InstanceState["timers"] = Object.freeze({}) as InstanceState["timers"];

const evictLess = (a: EvictEntry, b: EvictEntry): boolean => a.touched < b.touched;

export function buildRuntime(
  processors: readonly { kind: string; name: string }[],
  state: EngineState,
): Runtime {
  const rt: Runtime = {
    states: [],
    timers: new TimerQueue<TimerState>(),
    liveTimers: 0,
    evict: [],
    free: [],
  };
  processors.forEach((p, proc) => {
    const ps = state.processors[p.name];
    if (ps === undefined || ps.kind !== p.kind)
      throw new CepInputError(`the state has no ${p.kind} "${p.name}": was it made by another engine?`);
    rt.states.push(ps);
    rt.evict.push(undefined);
    if (ps.kind !== "rule") return;
    if (Object.getPrototypeOf(ps.instances) !== null) {
      // A copy made outside the engine (structuredClone, JSON): keys such as "constructor" must
      // not find Object.prototype's members.
      ps.instances = Object.assign(Object.create(null) as Record<string, InstanceState>, ps.instances);
    }
    for (const key of Object.keys(ps.instances).sort()) {
      const inst = ps.instances[key] as InstanceState;
      const names = Object.keys(inst.timers);
      if (inst.timeout !== null) names.push(PHASE_TIMEOUT);
      for (const name of names) {
        const rec = (name === PHASE_TIMEOUT ? inst.timeout : inst.timers[name]) as TimerState;
        rec.hd = rec.due;
        rec.hs = rec.seq;
        rec.proc = proc;
        rec.key = key;
        rec.name = name;
        rec.live = true;
        rec.pooled = false;
        rt.timers.push(rec.due, rec.seq, rec);
        rt.liveTimers++;
      }
    }
  });
  return rt;
}

/**
 * Starts or moves a timer. A timer with a fixed `delay` (due = now + delay) gets a new entry in
 * that delay's lane, which costs little; its old entry, if any, is left behind and skipped when
 * it comes up, because the record's key (hd, hs) names only its newest entry. Other timers go to
 * the heap, and their entries are not updated when a timer is moved later: when the old entry
 * comes up early it is re-queued at the record's real time.
 */
export function setTimer(
  state: EngineState,
  rt: Runtime,
  proc: number,
  key: string,
  inst: InstanceState,
  name: string,
  due: number,
  delay: number | undefined,
): void {
  const seq = state.seq++;
  const rec = name === PHASE_TIMEOUT ? inst.timeout : inst.timers[name];
  if (rec === undefined || rec === null) {
    let fresh = rt.free.pop();
    if (fresh === undefined)
      fresh = { due, seq, hd: due, hs: seq, proc, key, name, live: true, pooled: false };
    else {
      fresh.due = fresh.hd = due;
      fresh.seq = fresh.hs = seq;
      fresh.proc = proc;
      fresh.key = key;
      fresh.name = name;
      fresh.live = true;
      fresh.pooled = false;
    }
    if (name === PHASE_TIMEOUT) inst.timeout = fresh;
    else {
      if (inst.timers === NO_TIMERS) inst.timers = {};
      inst.timers[name] = fresh;
    }
    rt.liveTimers++;
    if (delay === undefined) rt.timers.push(due, seq, fresh);
    else rt.timers.pushDelayed(delay, due, seq, fresh);
    return;
  }
  rec.due = due;
  rec.seq = seq;
  if (delay !== undefined) {
    rec.hd = due;
    rec.hs = seq;
    rt.timers.pushDelayed(delay, due, seq, rec);
  } else if (rec.hd > due) {
    rec.hd = due;
    rec.hs = seq;
    rt.timers.push(due, seq, rec);
  }
}

export function cancelTimer(rt: Runtime, inst: InstanceState, name: string): void {
  if (name === PHASE_TIMEOUT) {
    if (inst.timeout !== null) {
      release(rt, inst.timeout);
      inst.timeout = null;
      rt.liveTimers--;
    }
  } else {
    const rec = inst.timers[name];
    if (rec !== undefined) {
      release(rt, rec);
      delete inst.timers[name];
      rt.liveTimers--;
    }
  }
}

/** A timer record that left the state: mark it dead and keep it for reuse (at most once). */
export function release(rt: Runtime, rec: TimerState): void {
  rec.live = false;
  if (!rec.pooled && rt.free.length < 4096) {
    rec.pooled = true;
    rt.free.push(rec);
  }
}

export function removeInstance(rt: Runtime, rs: RuleState, inst: InstanceState, key: string): void {
  const timers = inst.timers;
  if (timers !== NO_TIMERS)
    for (const name in timers) {
      release(rt, timers[name] as TimerState);
      rt.liveTimers--;
    }
  if (inst.timeout !== null) {
    release(rt, inst.timeout);
    rt.liveTimers--;
  }
  delete rs.instances[key];
  rs.count--;
}

/** The earliest pending timer's due time; drops stale entries and re-queues moved ones on the way. */
export function earliestDue(rt: Runtime): number | undefined {
  const heap = rt.timers;
  while (heap.size > 0) {
    const due = heap.topDue;
    const seq = heap.topSeq;
    const rec = heap.topRef as TimerState;
    if (!rec.live || rec.hd !== due || rec.hs !== seq) {
      heap.pop();
    } else if (rec.due !== due || rec.seq !== seq) {
      heap.pop();
      rec.hd = rec.due;
      rec.hs = rec.seq;
      heap.push(rec.due, rec.seq, rec);
    } else {
      return due;
    }
  }
  return undefined;
}

/** The key of the least recently active instance (smallest `touched`, which is unique). */
export function evictionVictim(rt: Runtime, proc: number, rs: RuleState): string | undefined {
  let heap = rt.evict[proc];
  if (heap === undefined) {
    heap = new MinHeap(evictLess);
    for (const key of Object.keys(rs.instances))
      heap.push({ touched: (rs.instances[key] as InstanceState).touched, key });
    rt.evict[proc] = heap;
  }
  for (;;) {
    const top = heap.pop();
    if (top === undefined) return undefined;
    const inst = rs.instances[top.key];
    if (inst === undefined) continue;
    if (inst.touched !== top.touched) {
      top.touched = inst.touched; // active since it was queued: requeue at its real place
      heap.push(top);
      continue;
    }
    return top.key;
  }
}

/** Drops stale queue entries once they outnumber the live ones, so memory stays bounded. */
export function compactRuntime(
  processors: readonly { kind: string; name: string }[],
  state: EngineState,
  rt: Runtime,
) {
  // A timer restarted on every event leaves an entry per restart in its lane until that entry
  // comes up: allow a few per live timer before paying for a pass over the queue.
  if (rt.timers.size > 3 * rt.liveTimers + 4096)
    rt.timers.retain((due, seq, rec) => rec.live && rec.hd === due && rec.hs === seq);
  processors.forEach((p, proc) => {
    const heap = rt.evict[proc];
    if (heap === undefined || p.kind !== "rule") return;
    const rs = state.processors[p.name] as RuleState;
    if (heap.size > 2 * rs.count + 1024) {
      const seen = new Set<string>();
      heap.retain((e) => {
        const inst = rs.instances[e.key];
        if (inst === undefined || seen.has(e.key)) return false;
        seen.add(e.key);
        e.touched = inst.touched;
        return true;
      });
    }
  });
}
