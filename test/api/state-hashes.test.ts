// The state hashes a replica shows are computed off the hot path: asking for
// one never serialises the state; a background refresh catches up with the
// applied index; checkpoint indexes are hashed exactly there.
import { afterEach, describe, expect, it, vi } from "vitest";
import { StateHashes } from "../../src/api/state-hashes.js";
import { until } from "../e2e/cluster-harness.js";
import { Scenario, runningCluster } from "../rc/harness.js";

describe("state hashes", () => {
  let hashes: StateHashes | undefined;
  afterEach(() => hashes?.stop());

  it("reads never compute a hash; a background refresh catches up with the applied index", async () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 20, processesPerNode: 1, disksPerHost: 1, pools: 1 });
    const snapshot = vi.spyOn(s.sm, "snapshot");
    const stateHash = vi.spyOn(s.sm, "stateHash");
    const capture = vi.spyOn(s.sm, "capture");
    hashes = new StateHashes(s.sm, {
      checkEvery: 0,
      refreshIntervalMs: 20,
      onError: (e) => expect(e).toBe(null),
    });
    for (let i = 0; i < 50; i++) expect(hashes.known()).toBeNull(); // nothing yet, and nothing computed now
    expect(capture).not.toHaveBeenCalled();
    await until(() => hashes!.known()?.index === s.index, "the hash to catch up", 10_000);
    const known = hashes.known()!;
    expect(snapshot).not.toHaveBeenCalled();
    expect(stateHash).not.toHaveBeenCalled();
    stateHash.mockRestore();
    expect(known.hash).toBe(s.sm.stateHash());
    // Many reads at one index: one capture, however many reads.
    const captures = capture.mock.calls.length;
    for (let i = 0; i < 100; i++) hashes.known();
    await new Promise((r) => setTimeout(r, 100));
    expect(capture.mock.calls.length).toBe(captures);
    // Entries applied: the hash follows, at most once per interval.
    s.event({ nodeHeartbeat: { nodeId: "node-1", epoch: 0 } });
    hashes.applied(s.index);
    expect(hashes.known()!.index).toBe(s.index - 1); // the old one, at once
    await until(() => hashes!.known()?.index === s.index, "the hash to follow", 10_000);
  });

  it("hashes every checkpoint index exactly there, however many entries follow at once", async () => {
    const s = new Scenario();
    runningCluster(s, { hosts: 5, processesPerNode: 1, disksPerHost: 1, pools: 1 });
    const seen: { index: number; hash: string }[] = [];
    const expected = new Map<number, string>();
    hashes = new StateHashes(s.sm, {
      checkEvery: 3,
      refreshIntervalMs: 60_000,
      onCheckpoint: (h) => seen.push(h),
      onError: (e) => expect(e).toBe(null),
    });
    for (let i = 0; i < 12; i++) {
      s.event({ nodeHeartbeat: { nodeId: "node-1", epoch: 0 } });
      if (s.index % 3 === 0) expected.set(s.index, s.sm.stateHash());
      hashes.applied(s.index);
    }
    await until(() => seen.length === expected.size, "every checkpoint hashed", 10_000);
    for (const h of seen) {
      expect(h.hash).toBe(expected.get(h.index));
      expect(hashes.checkpoint(h.index)).toBe(h.hash);
    }
  });
});
