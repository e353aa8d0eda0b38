// A state machine with the capture()/persist() split: the driver captures at
// the applied index, keeps committing and applying while persist() is under
// way, and saves the captured bytes under the captured index and term.
import { afterEach, describe, expect, it } from "vitest";
import type { StateCapture } from "../../../src/raft/index.js";
import type { LiveReplica } from "../helpers.js";
import { ListMachine, leaderOf, startLiveCluster, text, waitFor } from "../helpers.js";

/** A ListMachine whose snapshots are captured (a copy of the list) and encoded only when released. */
class CapturingMachine extends ListMachine {
  held: { items: string[]; release: () => void }[] = [];
  syncSnapshots = 0;
  override snapshot(): Uint8Array {
    this.syncSnapshots++;
    return super.snapshot();
  }
  capture(): StateCapture {
    const items = [...this.items];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    this.held.push({ items, release });
    return {
      persist: async () => {
        await released;
        return text(JSON.stringify(items));
      },
    };
  }
}

let running: LiveReplica[] = [];
afterEach(() => {
  for (const r of running) r.node.stop();
  running = [];
});

/** Three replicas snapshotting every 10 entries; 12 entries proposed, and the leader's first capture held. */
async function leaderWithACapture(): Promise<{ leader: LiveReplica; lm: CapturingMachine }> {
  const { replicas } = await startLiveCluster(
    ["a", "b", "c"],
    { snapshotThreshold: 10, trailingEntries: 0 },
    () => new CapturingMachine(),
  );
  running = replicas;
  await waitFor(() => leaderOf(replicas) !== undefined, 10_000, "a leader");
  const leader = leaderOf(replicas)!;
  const lm = leader.machine as CapturingMachine;
  for (let i = 0; i < 12; i++) await leader.node.propose(text(`v${i}`));
  await waitFor(() => lm.held.length === 1, 10_000, "a capture on the leader");
  return { leader, lm };
}

describe("snapshots taken with capture() and persisted in the background", () => {
  it("keep the node committing while persist() is pending, then save the captured state at its index", async () => {
    const { leader, lm } = await leaderWithACapture();
    const captured = lm.held[0]!.items;
    // While the capture is being persisted, the node goes on committing.
    for (let i = 12; i < 40; i++) await leader.node.propose(text(`v${i}`));
    expect(lm.items).toHaveLength(40);
    expect(await leader.snapshotStore.latest()).toBeNull();
    expect(lm.held).toHaveLength(1); // one snapshot at a time
    lm.held[0]!.release();
    await waitFor(() => leader.node.status().snapshotIndex > 0, 10_000, "the snapshot saved");
    const saved = (await leader.snapshotStore.latest())!;
    expect(JSON.parse(new TextDecoder().decode(saved.data))).toEqual(captured);
    // Captured at the index of the last entry it holds (ListMachine keeps Normal entries only).
    expect(saved.meta.index).toBeGreaterThanOrEqual(captured.length);
    expect(saved.meta.index).toBeLessThan(captured.length + 5);
    expect(lm.syncSnapshots).toBe(0);
  });

  it("pace themselves: after a snapshot that took long, the next waits about four times as long", async () => {
    const { leader, lm } = await leaderWithACapture();
    // A long snapshot (a large state): 600 ms, some 60 ticks of 10 ms.
    const HOLD_MS = 600;
    for (let i = 12; i < 40; i++) await leader.node.propose(text(`v${i}`));
    await new Promise((r) => setTimeout(r, HOLD_MS));
    lm.held[0]!.release();
    await waitFor(() => leader.node.status().snapshotIndex > 0, 10_000, "the snapshot saved");
    const savedAt = performance.now();
    // Far past the threshold already, and more entries keep coming: without pacing the next
    // capture would start at once.
    for (let i = 40; i < 60; i++) await leader.node.propose(text(`v${i}`));
    await waitFor(() => lm.held.length === 2, 30_000, "the next capture");
    expect(performance.now() - savedAt).toBeGreaterThanOrEqual(HOLD_MS);
    lm.held[1]!.release();
  });
});
