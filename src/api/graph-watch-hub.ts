// Fans the graph changes of applied entries out to WatchGraph streams, and
// keeps the most recent ones so that a watcher can resume from an index. The
// replica's apply loop publishes; it never waits for a watcher: a watcher that
// falls too far behind is told to start again from the whole graph.
import type { GraphChange as GraphChangeMessage } from "../gen/halon/v1/client.js";

export interface IndexedChanges {
  index: number;
  changes: GraphChangeMessage[];
}

export type HubListener = (update: IndexedChanges | { reset: true }) => void;

export class GraphWatchHub {
  private readonly recent: IndexedChanges[] = [];
  private retainedChanges = 0;
  /** Changes of entries up to this index are no longer all kept. */
  private forgottenUpTo = 0;
  private readonly listeners = new Set<HubListener>();

  /** @param maxChanges how many changes to keep for watchers that resume (oldest entries dropped first). */
  constructor(private readonly maxChanges = 50_000) {}

  publish(index: number, changes: GraphChangeMessage[]): void {
    const item = { index, changes };
    this.recent.push(item);
    this.retainedChanges += changes.length;
    while (this.retainedChanges > this.maxChanges && this.recent.length > 1) {
      const dropped = this.recent.shift()!;
      this.retainedChanges -= dropped.changes.length;
      this.forgottenUpTo = dropped.index;
    }
    for (const l of this.listeners) l(item);
  }

  /** The state was replaced (a snapshot installed): what was kept no longer leads to it. */
  reset(appliedIndex: number): void {
    this.recent.length = 0;
    this.retainedChanges = 0;
    this.forgottenUpTo = appliedIndex;
    for (const l of this.listeners) l({ reset: true });
  }

  /** The kept changes of entries after `index`, or null when some of them are no longer kept. */
  since(index: number): IndexedChanges[] | null {
    if (index < this.forgottenUpTo) return null;
    return this.recent.filter((r) => r.index > index);
  }

  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
