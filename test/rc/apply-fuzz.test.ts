// Properties of apply() over arbitrary inputs (see apply-fuzz.ts): it never
// throws; an event it rejects leaves the state exactly as it was (all or
// nothing); only poisoned state (instances past the bounds, written by an
// older build) makes the coordinator fail inside, never valid input; every
// replica of the same history has the same hash, and so has one restored from
// a snapshot at any point; a snapshot always restores (the graph's schema and
// cardinalities hold); no process or service shows running on a node that is
// away (shown-state.ts). A planted bug (a graph that does not undo) is caught.
// Failures print fast-check's seed and the shrunk history; FUZZ_RUNS and
// FUZZ_SEED (make fuzz) run longer or replay one.
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { Graph } from "../../src/graph/index.js";
import { EntryType, type Entry } from "../../src/raft/types.js";
import {
  decodeApplyResult,
  encodeEventBatch,
  encodeRulesVersion,
  encodeTick,
  makeEvent,
} from "../../src/rc/entry.js";
import { shownStateViolations } from "../../src/rc/shown-state.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { HOSTS, runs, seed, step, type Step } from "./apply-fuzz.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

type Action = { entry: Entry } | { poison: string };

/** What the runs exercised, so that a generator that stops reaching a case is noticed. */
const tally = { applied: 0, rejected: 0, undone: 0, timerFaults: 0 };

/** The state without the applied index and the fault record (which a rejection may add to). */
function comparable(sm: RcStateMachine): string {
  const d = JSON.parse(Buffer.from(sm.snapshot()).toString("utf8")) as Record<string, unknown>;
  delete d.appliedIndex;
  delete d.faults;
  return JSON.stringify(d);
}

function poison(sm: RcStateMachine, pid: string): void {
  if (sm.graph.kindOf(pid) === "Process") sm.graph.setAttr(pid, "instance", Number.MAX_SAFE_INTEGER);
}

function perform(sm: RcStateMachine, a: Action): Uint8Array | null {
  if ("poison" in a) {
    poison(sm, a.poison);
    return null;
  }
  return sm.apply(a.entry);
}

const setup = (() => {
  const s = new Scenario(TEST_CONFIG);
  runningCluster(s, { hosts: HOSTS, processesPerNode: 2, disksPerHost: 2, pools: 1 });
  return s.log;
})();

/**
 * Runs the steps on one replica, checking each entry as it goes, and returns
 * the history (entries and poison) to replay on others.
 */
function runChecked(steps: Step[]): { actions: Action[]; sm: RcStateMachine; results: string[] } {
  const sm = new RcStateMachine({ config: TEST_CONFIG });
  const actions: Action[] = setup.map((entry) => ({ entry }));
  for (const a of actions) sm.apply((a as { entry: Entry }).entry);
  const results: string[] = [];
  const sent: ReturnType<typeof makeEvent>[] = [];
  let poisoned = false;
  let seq = 0;
  const push = (data: Uint8Array): ReturnType<typeof decodeApplyResult> => {
    const entry: Entry = { term: 2, index: sm.lastApplied + 1, type: EntryType.Normal, data };
    actions.push({ entry });
    const bytes = sm.apply(entry);
    results.push(Buffer.from(bytes).toString("hex"));
    // The graph tells the truth after every entry: nothing shows running on a node that is away.
    expect(shownStateViolations(sm.graph), `after entry ${entry.index}`).toEqual([]);
    return decodeApplyResult(bytes);
  };
  for (const st of steps) {
    switch (st.k) {
      case "tick":
        push(encodeTick(sm.timeMs + st.dt));
        break;
      case "time":
        push(encodeTick(st.at));
        break;
      case "garbage":
        push(st.bytes);
        break;
      case "rules":
        push(encodeRulesVersion(1, sm.timeMs, st.disabled));
        break;
      case "poison":
        actions.push({ poison: st.process });
        poison(sm, st.process);
        poisoned ||= sm.graph.kindOf(st.process) === "Process";
        break;
      case "events": {
        // Time first (timers fire), then the events at that time: what the
        // events do is then the only difference the batch makes.
        const at = sm.timeMs + st.dt;
        push(encodeTick(at));
        const events = st.bodies.map((b) => makeEvent({ ...b, id: `p${++seq}`, source: "fuzz" }));
        const again = sent[sent.length - 1 - st.reuse];
        if (st.reuse > 0 && again) events.push(again);
        sent.push(...events);
        const before = events.length === 1 ? comparable(sm) : "";
        const r = push(encodeEventBatch(at, events));
        for (const ev of r.events) {
          if (ev.outcome === EventOutcome.EVENT_OUTCOME_APPLIED) tally.applied++;
          if (ev.outcome === EventOutcome.EVENT_OUTCOME_REJECTED) tally.rejected++;
          if (ev.code === "internal") tally.undone++;
          // Only a poisoned state makes the coordinator fail inside; rules never throw.
          if (!poisoned) expect(ev.code, `${ev.eventId}: ${ev.reason}`).not.toBe("internal");
          expect(ev.code).not.toBe("rule-failed");
        }
        const only = r.events[0];
        if (events.length === 1 && only?.outcome === EventOutcome.EVENT_OUTCOME_REJECTED)
          expect(comparable(sm), `rejected ${only.eventId} (${only.code}) changed the state`).toBe(before);
        break;
      }
    }
  }
  tally.timerFaults += sm.faultLog().recent.filter((f) => f.eventId === "").length;
  return { actions, sm, results };
}

function property(steps: Step[], split: number): void {
  const { actions, sm, results } = runChecked(steps);
  // Every replica of the same history agrees.
  const twin = new RcStateMachine({ config: TEST_CONFIG });
  for (const a of actions) perform(twin, a);
  expect(twin.stateHash()).toBe(sm.stateHash());
  // A snapshot at any point, restored and continued, agrees entry by entry.
  const k = split % (actions.length + 1);
  const first = new RcStateMachine({ config: TEST_CONFIG });
  for (const a of actions.slice(0, k)) perform(first, a);
  const restored = new RcStateMachine({ config: TEST_CONFIG });
  restored.restore(first.snapshot());
  const tail: string[] = [];
  for (const a of actions.slice(k)) {
    const out = perform(restored, a);
    if (out && a && "entry" in a && a.entry.index > setup.length) tail.push(Buffer.from(out).toString("hex"));
  }
  expect(tail).toEqual(results.slice(results.length - tail.length));
  expect(restored.stateHash()).toBe(sm.stateHash());
  // The final state restores: the graph's schema and cardinalities hold.
  const check = new RcStateMachine({ config: TEST_CONFIG });
  check.restore(sm.snapshot());
  expect(check.stateHash()).toBe(sm.stateHash());
}

const history = fc.tuple(fc.array(step, { minLength: 1, maxLength: 40 }), fc.nat());

describe("apply over arbitrary histories", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it(
    "never throws, undoes every rejected event, and agrees across replicas and snapshots",
    // Some 10 ms a history on a loaded machine; make fuzz runs many more.
    { timeout: Math.max(180_000, runs(1_000) * 200) },
    () => {
      fc.assert(
        fc.property(history, ([steps, split]) => property(steps, split)),
        { seed: seed(1010), numRuns: runs(1_000) },
      );
      // The histories reached every kind of case.
      expect(tally.applied).toBeGreaterThan(1_000);
      expect(tally.rejected).toBeGreaterThan(1_000);
      expect(tally.undone).toBeGreaterThan(10);
      expect(tally.timerFaults).toBeGreaterThan(0);
    },
  );

  // (The rules' and the outbox's undo are caught by total-apply.test.ts, whose scenario reaches them surely.)
  it("catches a planted bug: a graph that does not undo", { timeout: 180_000 }, () => {
    vi.spyOn(Graph.prototype, "undo").mockImplementation(() => {});
    const result = fc.check(
      fc.property(history, ([steps, split]) => property(steps, split)),
      { seed: 1010, numRuns: 1_000 },
    );
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toContain("changed the state");
  });
});
