import type { Input } from "../../src/cep/index.js";

/** Seeded PRNG (mulberry32) so every run measures the same inputs. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// (a) map / filter / accumulate
export interface Reading {
  readonly sensor: number;
  readonly value: number;
}
export const PIPELINE_REPORT_EVERY = 1_000_000;

export function pipelineInputs(n: number): Input<Reading>[] {
  const rnd = prng(1);
  const out: Input<Reading>[] = new Array(n);
  for (let i = 0; i < n; i++)
    out[i] = { time: i, event: { sensor: (rnd() * 64) | 0, value: (rnd() * 100) | 0 } };
  return out;
}

// (b) per-key timeout: a key is silent after SILENCE without a heartbeat.
export interface Heartbeat {
  readonly node: string;
}
export const TIMEOUT_KEYS = 10_000;
/** One event per time unit, 10,000 keys: a key's gaps average 10,000, so about 13% exceed this. */
export const SILENCE = 20_000;

export function timeoutInputs(n: number): Input<Heartbeat>[] {
  const rnd = prng(2);
  const names = Array.from({ length: TIMEOUT_KEYS }, (_, i) => `node-${i}`);
  const out: Input<Heartbeat>[] = new Array(n);
  for (let i = 0; i < n; i++)
    out[i] = { time: i, event: { node: names[(rnd() * TIMEOUT_KEYS) | 0] as string } };
  return out;
}

// (c) sequence "a then b within WINDOW" over 1,000 keys.
export interface Step {
  readonly key: string;
  readonly kind: "a" | "b";
}
export const SEQUENCE_KEYS = 1_000;
export const WINDOW = 1_500;

export function sequenceInputs(n: number): Input<Step>[] {
  const rnd = prng(3);
  const names = Array.from({ length: SEQUENCE_KEYS }, (_, i) => `k-${i}`);
  const out: Input<Step>[] = new Array(n);
  for (let i = 0; i < n; i++)
    out[i] = {
      time: i,
      event: { key: names[(rnd() * SEQUENCE_KEYS) | 0] as string, kind: rnd() < 0.5 ? "a" : "b" },
    };
  return out;
}
