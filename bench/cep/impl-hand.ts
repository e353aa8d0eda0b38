import type { Input } from "../../src/cep/index.js";
import {
  PIPELINE_REPORT_EVERY,
  SILENCE,
  WINDOW,
  type Heartbeat,
  type Reading,
  type Step,
} from "./workloads.js";

/**
 * What an engineer would write by hand for each workload: a loop over the inputs with a Map and,
 * for the timeout, a lazy min-heap of deadlines. Outputs are collected as plain values.
 */

export function handPipeline(inputs: readonly Input<Reading>[]): number {
  let sum = 0;
  const out: number[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const r = (inputs[i] as Input<Reading>).event as Reading;
    if (r.sensor % 2 !== 0) continue;
    sum += r.value * 3;
    if (sum % PIPELINE_REPORT_EVERY < 300) out.push(sum);
  }
  return out.length;
}

export function handTimeout(inputs: readonly Input<Heartbeat>[]): number {
  const deadline = new Map<string, number>();
  // Parallel arrays make a binary heap of (due, key) without an object per entry.
  const dues: number[] = [];
  const keys: string[] = [];
  const out: string[] = [];
  const push = (due: number, key: string): void => {
    let i = dues.length;
    dues.push(due);
    keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((dues[p] as number) <= due) break;
      dues[i] = dues[p] as number;
      keys[i] = keys[p] as string;
      i = p;
    }
    dues[i] = due;
    keys[i] = key;
  };
  const pop = (): void => {
    const lastDue = dues.pop() as number;
    const lastKey = keys.pop() as string;
    const n = dues.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (dues[c + 1] as number) < (dues[c] as number)) c++;
      if ((dues[c] as number) >= lastDue) break;
      dues[i] = dues[c] as number;
      keys[i] = keys[c] as string;
      i = c;
    }
    dues[i] = lastDue;
    keys[i] = lastKey;
  };
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as Input<Heartbeat>;
    const t = input.time;
    while (dues.length > 0 && (dues[0] as number) <= t) {
      const due = dues[0] as number;
      const key = keys[0] as string;
      pop();
      const d = deadline.get(key);
      if (d === due) {
        deadline.delete(key);
        out.push(key);
      } else if (d !== undefined && d > due) {
        push(d, key); // the deadline moved: requeue it
      }
    }
    const key = (input.event as Heartbeat).node;
    const had = deadline.has(key);
    deadline.set(key, t + SILENCE);
    if (!had) push(t + SILENCE, key);
  }
  return out.length;
}

export function handSequence(inputs: readonly Input<Step>[]): number {
  const pending = new Map<string, number>(); // key -> time of the waiting "a"
  const out: string[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i] as Input<Step>;
    const e = input.event as Step;
    if (e.kind === "a") {
      pending.set(e.key, input.time);
    } else {
      const at = pending.get(e.key);
      if (at !== undefined) {
        pending.delete(e.key);
        if (input.time - at < WINDOW) out.push(e.key);
      }
    }
  }
  return out.length;
}
