// Natural batching: a lone event goes at once; events submitted while a call is
// in flight go together in the next one, in order, each with its own outcome.
import { describe, expect, it } from "vitest";
import { EventBatcher } from "../../src/api/event-batcher.js";
import type { SubmitEventsResponse } from "../../src/gen/halon/v1/client.js";
import { EventOutcome, type Event } from "../../src/gen/halon/v1/events.js";

function sink() {
  const calls: { events: Event[]; resolve: (ok: boolean) => void }[] = [];
  let index = 0;
  return {
    calls,
    submitEvents(events: Event[]): Promise<SubmitEventsResponse> {
      return new Promise((resolve, reject) => {
        calls.push({
          events,
          resolve: (ok) =>
            ok
              ? resolve({
                  index: ++index,
                  term: 1,
                  commands: [],
                  results: events.map((e) => ({
                    eventId: e.id,
                    outcome: EventOutcome.EVENT_OUTCOME_APPLIED,
                    code: "",
                    reason: "",
                  })),
                })
              : reject(new Error("unavailable")),
        });
      });
    },
  };
}

const ev = (i: number): Event => ({ id: `e${i}`, source: "t", nodeHeartbeat: { nodeId: "n", epoch: 0 } });
const tick = () => new Promise((r) => setImmediate(r));

describe("event batcher", () => {
  it("sends a lone event at once and the events that came meanwhile as one batch, in order", async () => {
    const s = sink();
    const b = new EventBatcher(s, { maxBatch: 100 });
    const first = b.submit(ev(0));
    expect(s.calls).toHaveLength(1);
    const rest = Array.from({ length: 250 }, (_, i) => b.submit(ev(i + 1)));
    expect(s.calls).toHaveLength(1); // one call in flight
    s.calls[0]!.resolve(true);
    expect((await first).result.eventId).toBe("e0");
    await tick();
    expect(s.calls.map((c) => c.events.length)).toEqual([1, 100]);
    s.calls[1]!.resolve(true);
    await tick();
    s.calls[2]!.resolve(true);
    await tick();
    s.calls[3]!.resolve(true);
    const answers = await Promise.all(rest);
    expect(s.calls.map((c) => c.events.length)).toEqual([1, 100, 100, 50]);
    expect(s.calls.flatMap((c) => c.events.map((e) => e.id))).toEqual(
      Array.from({ length: 251 }, (_, i) => `e${i}`),
    );
    answers.forEach((a, i) => expect(a.result.eventId).toBe(`e${i + 1}`));
    expect(answers[0]!.index).toBe(2);
    expect(answers[249]!.index).toBe(4);
  });

  it("a failed call rejects its batch only; the next batch still goes", async () => {
    const s = sink();
    const b = new EventBatcher(s);
    const a = b.submit(ev(1));
    const c = b.submit(ev(2));
    s.calls[0]!.resolve(false);
    await expect(a).rejects.toThrow(/unavailable/);
    await tick();
    s.calls[1]!.resolve(true);
    expect((await c).result.eventId).toBe("e2");
  });

  it("keeps up to maxInFlight calls going", async () => {
    const s = sink();
    const b = new EventBatcher(s, { maxBatch: 2, maxInFlight: 3 });
    const all = Array.from({ length: 7 }, (_, i) => b.submit(ev(i)));
    expect(s.calls.map((c) => c.events.length)).toEqual([1, 1, 1]);
    for (const c of s.calls.slice()) c.resolve(true);
    await tick();
    expect(s.calls.map((c) => c.events.length)).toEqual([1, 1, 1, 2, 2]);
    for (const c of s.calls.slice(3)) c.resolve(true);
    await Promise.all(all);
  });
});
