// The bottom layer: one backoff, one heap, one content hash, used everywhere.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay } from "../../src/util/backoff.js";
import { sha256Hex } from "../../src/util/hash.js";
import { MinHeap } from "../../src/util/heap.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "gen" ? [] : sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

describe("backoff", () => {
  it("grows by the factor from the base, up to the ceiling", () => {
    const p = { baseMs: 100, factor: 3, maxMs: 2_000 };
    expect([1, 2, 3, 4, 5, 50].map((a) => backoffDelay(p, a))).toEqual([100, 300, 900, 2_000, 2_000, 2_000]);
    expect(backoffDelay({ baseMs: 1_000, factor: 1.5, maxMs: 10_000 }, 3)).toBe(2_250);
  });

  it("counts its attempts, starts again after reset, and jitters within the upper half", () => {
    const b = new Backoff({ baseMs: 50, factor: 2, maxMs: 1_000 });
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([50, 100, 200, 400, 800, 1_000, 1_000]);
    b.reset();
    expect(b.next()).toBe(50);
    const low = new Backoff({ baseMs: 100, factor: 2, maxMs: 1_000 }, () => 0);
    const high = new Backoff({ baseMs: 100, factor: 2, maxMs: 1_000 }, () => 0.999);
    expect([low.next(), low.next()]).toEqual([50, 100]);
    expect([high.next(), high.next()]).toEqual([100, 200]);
  });
});

describe("heap", () => {
  it("pops in order of the comparison, whatever the order of pushes, and retains", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    const values = Array.from({ length: 500 }, () => rand() % 100);
    const h = new MinHeap<number>((a, b) => a < b);
    for (const v of values) h.push(v);
    h.retain((v) => v % 7 !== 0);
    const out: number[] = [];
    for (let v = h.pop(); v !== undefined; v = h.pop()) out.push(v);
    expect(out).toEqual(values.filter((v) => v % 7 !== 0).sort((a, b) => a - b));
  });
});

describe("hash", () => {
  it("is SHA-256 of the parts in order", () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("a", new TextEncoder().encode("bc"))).toBe(sha256Hex("abc"));
  });
});

describe("one of each", () => {
  const files = sourceFiles("src").filter((f) => !f.startsWith(join("src", "util")));
  it("no other file hashes content with node:crypto's createHash", () => {
    expect(files.filter((f) => /createHash\(/.test(readFileSync(f, "utf8")))).toEqual([]);
  });
  it("no other file implements a heap (the CEP timer queue's parallel-array heap aside)", () => {
    const heaps = files.filter((f) => /siftDown|siftUp|\(i - 1\) >> 1/.test(readFileSync(f, "utf8")));
    expect(heaps).toEqual([join("src", "cep", "timer-heap.ts")]);
  });
  it("no other file computes an exponential delay", () => {
    const growth =
      /(base\w*|initial\w*|delay\w*)\s*\*\s*(2|\w*factor)\b|\*= ?\w*\.?factor|\*\*\s*(this\.)?(attempt|recent)/;
    expect(files.filter((f) => growth.test(readFileSync(f, "utf8")))).toEqual([]);
  });
});
