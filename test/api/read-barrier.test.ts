// One ReadIndex round serves every read that arrived before it started; a read
// that arrives during a round waits for a fresh one.
import { describe, expect, it } from "vitest";
import { ReadBarrier } from "../../src/api/read-barrier.js";

function rounds() {
  const started: { resolve: (i: number) => void; reject: (e: Error) => void }[] = [];
  const barrier = new ReadBarrier(
    () =>
      new Promise<number>((resolve, reject) => {
        started.push({ resolve, reject });
      }),
  );
  return { started, barrier };
}

describe("read barrier", () => {
  it("coalesces reads: one round for those before it, one more for all that came during it", async () => {
    const { started, barrier } = rounds();
    const a = barrier.wait();
    const b = barrier.wait(); // during round 1: must not share it
    const c = barrier.wait();
    expect(started).toHaveLength(1);
    started[0]!.resolve(10);
    expect(await a).toBe(10);
    await Promise.resolve();
    expect(started).toHaveLength(2); // one fresh round for b and c together
    started[1]!.resolve(12);
    expect(await b).toBe(12);
    expect(await c).toBe(12);
    // Idle again: the next read starts its own round at once.
    const d = barrier.wait();
    expect(started).toHaveLength(3);
    started[2]!.resolve(13);
    expect(await d).toBe(13);
  });

  it("a failed round fails its reads only; the waiting ones get a round of their own", async () => {
    const { started, barrier } = rounds();
    const a = barrier.wait();
    const b = barrier.wait();
    started[0]!.reject(new Error("not the leader"));
    await expect(a).rejects.toThrow(/not the leader/);
    await Promise.resolve();
    expect(started).toHaveLength(2);
    started[1]!.resolve(5);
    expect(await b).toBe(5);
  });
});
