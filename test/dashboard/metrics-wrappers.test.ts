// The metrics wrap the replica's log store: the wrapper must keep every
// method of the store, the optional ones too (reopen after a full disk, the
// storage identity), or the Raft driver silently goes without them (a full
// disk never cleared under `halon rc` before this was kept).
import { describe, expect, it } from "vitest";
import { ReplicaMetrics } from "../../src/dashboard/index.js";
import type { LogStore } from "../../src/raft/storage.js";

describe("the metrics' log store wrapper", () => {
  it("keeps the store's optional methods, bound to the store, and times persist", async () => {
    const calls: string[] = [];
    class Store implements LogStore {
      db = "first";
      load() {
        return Promise.resolve({
          hardState: { term: 0, vote: "", commit: 0 },
          entries: [],
          firstIndex: 1,
        } as never);
      }
      persist() {
        calls.push(`persist ${this.db}`);
        return Promise.resolve();
      }
      compact() {
        return Promise.resolve();
      }
      reopen() {
        this.db = "reopened";
        return Promise.resolve();
      }
      readIdentity() {
        return Promise.resolve("id-1");
      }
      writeIdentity(id: string) {
        calls.push(`identity ${id}`);
        return Promise.resolve();
      }
      close() {
        return Promise.resolve();
      }
    }
    const store = new Store();
    const wrapped = new ReplicaMetrics().logStore(store);
    expect(typeof wrapped.reopen).toBe("function");
    expect(await wrapped.readIdentity!()).toBe("id-1");
    await wrapped.writeIdentity!("id-2");
    await wrapped.reopen!();
    await wrapped.persist({ entries: [] });
    // reopen changed the store itself, which persist then uses.
    expect(store.db).toBe("reopened");
    expect(calls).toEqual(["identity id-2", "persist reopened"]);
    expect(wrapped.resetTo).toBeUndefined();
  });
});
