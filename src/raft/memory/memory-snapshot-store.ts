// A SnapshotStore in memory with the same pending/durable model as MemoryLogStore.
import type { Snapshot, SnapshotStore } from "../storage.js";
import type { SyncScheduler } from "./memory-log-store.js";

export class MemorySnapshotStore implements SnapshotStore {
  private durable: Snapshot | null = null;
  private generation = 0;

  constructor(private readonly scheduler: SyncScheduler = (done) => queueMicrotask(done)) {}

  save(snapshot: Snapshot): Promise<void> {
    const gen = this.generation;
    return new Promise((resolve) => {
      this.scheduler(() => {
        if (gen !== this.generation) return; // lost in a crash
        if (this.durable === null || snapshot.meta.index >= this.durable.meta.index) this.durable = snapshot;
        resolve();
      });
    });
  }

  async latest(): Promise<Snapshot | null> {
    return this.durable;
  }

  async close(): Promise<void> {}

  crash(): void {
    this.generation++;
  }

  /** The disk is lost: no snapshot survives. */
  wipe(): void {
    this.generation++;
    this.durable = null;
  }
}
