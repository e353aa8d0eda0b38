// The observers a node reports to: the one given at start and any added later.
import type { RaftObserver } from "./interfaces.js";

type Callback<K extends keyof RaftObserver> = NonNullable<RaftObserver[K]>;

export class ObserverList {
  private readonly list: RaftObserver[] = [];

  add(o: RaftObserver): () => void {
    this.list.push(o);
    return () => {
      const i = this.list.indexOf(o);
      if (i >= 0) this.list.splice(i, 1);
    };
  }

  /** Calls `key` on every observer that has it. */
  notify<K extends keyof RaftObserver>(key: K, ...args: Parameters<Callback<K>>): void {
    for (const o of this.list) {
      const f = o[key] as ((...a: Parameters<Callback<K>>) => void) | undefined;
      f?.apply(o, args);
    }
  }
}
