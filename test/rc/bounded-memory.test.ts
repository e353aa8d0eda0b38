// 100,000 mixed events: every bounded part of the state stays within its
// bound, the rules never throw, and the snapshot does not grow with the
// number of events.
import { describe, expect, it } from "vitest";
import { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { canonicalJson } from "../../src/graph/index.js";
import { encodeEventBatch } from "../../src/rc/entry.js";
import { MixedLoad } from "./mixed-load.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

describe("100,000 mixed events", () => {
  it("are processed with bounded memory", () => {
    const shape = { hosts: 100, processesPerNode: 2, disksPerHost: 2, pools: 4 };
    const s = new Scenario();
    runningCluster(s, shape);
    const setupIds = s.sm.dedupSize();
    const load = new MixedLoad(s.sm, shape, 4242);
    const perBatch = 100;
    const msPerEvent = 10;
    const outcomes = new Map<number, number>();
    let internal = 0;
    const sizes: number[] = [];
    let maxOutbox = 0;
    let maxDedup = 0;
    for (let b = 0; b < 1_000; b++) {
      const events = Array.from({ length: perBatch }, () => load.next());
      const r = s.entry(
        encodeEventBatch(s.time + perBatch * msPerEvent, events),
        s.time + perBatch * msPerEvent,
      );
      for (const e of r.events) {
        outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
        if (e.code === "internal") internal++;
      }
      maxOutbox = Math.max(maxOutbox, s.sm.pendingCommands().length);
      maxDedup = Math.max(maxDedup, s.sm.dedupSize());
      if (b === 499 || b === 999) sizes.push(s.sm.snapshot().length);
    }
    // Every kind of outcome happened, and no rule or handler failed.
    for (const o of [
      EventOutcome.EVENT_OUTCOME_APPLIED,
      EventOutcome.EVENT_OUTCOME_DUPLICATE,
      EventOutcome.EVENT_OUTCOME_IGNORED_STALE,
      EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN,
    ])
      expect(outcomes.get(o) ?? 0, `outcome ${o}`).toBeGreaterThan(0);
    expect(internal).toBe(0);
    expect(s.sm.engineIncidents().count).toBe(0);
    // Bounds: ids within the retention window, one command per slot, the unknown-event record capped.
    // (Events of one batch share its time, so the window is counted in whole batches.)
    const windowEvents = TEST_CONFIG.dedupRetentionMs / msPerEvent + perBatch + setupIds;
    expect(maxDedup).toBeLessThanOrEqual(windowEvents);
    const slots = shape.hosts * 5 + shape.hosts * shape.processesPerNode;
    expect(maxOutbox).toBeLessThanOrEqual(slots);
    expect(s.sm.unknownEvents().recent.length).toBeLessThanOrEqual(TEST_CONFIG.unknownEventsKept);
    expect(s.sm.unknownEvents().count).toBeGreaterThan(TEST_CONFIG.unknownEventsKept);
    // The state after 100k events is no bigger than after 50k, give or take the churn.
    const [half, full] = sizes as [number, number];
    expect(full).toBeLessThan(half * 1.3);
    // The snapshot is written in canonical form (keys sorted at every level), so hashes compare.
    const text = Buffer.from(s.sm.snapshot()).toString("utf8");
    expect(canonicalJson(JSON.parse(text))).toBe(text);
  });
});
