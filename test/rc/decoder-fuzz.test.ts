// Random bytes into the state machine's decoders: a log entry is applied or
// refused as a whole (never a throw, and a refused entry changes nothing but
// the applied index); a snapshot restores or is refused with RcSnapshotError,
// leaving the machine as it was. Truncated and structurally damaged snapshots
// too, not only noise.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EntryType } from "../../src/raft/types.js";
import { decodeApplyResult } from "../../src/rc/entry.js";
import { RcSnapshotError } from "../../src/rc/snapshot-data.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import { runs, seed } from "./apply-fuzz.js";
import { runningCluster, Scenario, TEST_CONFIG } from "./harness.js";

function running(): RcStateMachine {
  const s = new Scenario(TEST_CONFIG);
  runningCluster(s, { hosts: 2, processesPerNode: 1, disksPerHost: 1, pools: 1 });
  return s.sm;
}

function comparable(sm: RcStateMachine): string {
  const d = JSON.parse(Buffer.from(sm.snapshot()).toString("utf8")) as Record<string, unknown>;
  delete d.appliedIndex;
  return JSON.stringify(d);
}

describe("random bytes into the decoders", () => {
  it("entries: applied or refused whole, never a throw", () => {
    const sm = running();
    let refused = 0;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (data) => {
        const before = comparable(sm);
        const r = decodeApplyResult(
          sm.apply({ index: sm.lastApplied + 1, term: 1, type: EntryType.Normal, data }),
        );
        if (r.error !== "") {
          refused++;
          expect(comparable(sm)).toBe(before);
          // No library text: the decoder's message is not passed on.
          expect(r.error).not.toMatch(/index out of range|invalid wire type|premature EOF/i);
        }
      }),
      { seed: seed(91), numRuns: runs(3_000) },
    );
    expect(refused).toBeGreaterThan(100);
  });

  it("snapshots: restored, or refused with RcSnapshotError and the machine unchanged", () => {
    const source = running();
    const good = Buffer.from(source.snapshot()).toString("utf8");
    const parsed = JSON.parse(good) as Record<string, unknown>;
    const keys = Object.keys(parsed);
    const damaged = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.nat(good.length).map((n) => Buffer.from(good.slice(0, n))),
      fc
        .tuple(
          fc.constantFrom(...keys),
          fc.constantFrom<unknown>(null, 1, -1, 2 ** 60, "x", [], {}, [1], { a: 1 }),
        )
        .map(([k, v]) => Buffer.from(JSON.stringify({ ...parsed, [k]: v }))),
      fc.constantFrom(...keys).map((k) => {
        const copy: Record<string, unknown> = { ...parsed };
        delete copy[k];
        return Buffer.from(JSON.stringify(copy));
      }),
    );
    const target = running();
    const hash = target.stateHash();
    let refused = 0;
    fc.assert(
      fc.property(damaged, (bytes) => {
        const probe = running();
        try {
          probe.restore(bytes);
        } catch (err) {
          refused++;
          expect(err).toBeInstanceOf(RcSnapshotError);
          expect(probe.stateHash()).toBe(hash);
          return;
        }
        // Restored: it snapshots and restores again to the same state.
        const again = new RcStateMachine({ config: TEST_CONFIG });
        again.restore(probe.snapshot());
        expect(again.stateHash()).toBe(probe.stateHash());
      }),
      { seed: seed(92), numRuns: runs(1_000) },
    );
    expect(refused).toBeGreaterThan(100);
  });
});
