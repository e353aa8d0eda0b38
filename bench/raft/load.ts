// The client harness both systems share: N workers in one Node process, each
// issuing one write at a time, retrying after an error, recording latencies.
import { performance } from "node:perf_hooks";

export type WriteOp = (worker: number, seq: number) => Promise<unknown>;

export interface LoadResult {
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export class Load {
  private running = true;
  private measuring = false;
  private latencies: number[] = [];
  private errors = 0;
  private readonly workers: Promise<void>[] = [];

  constructor(
    private readonly op: WriteOp,
    readonly concurrency: number,
  ) {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.work(w));
  }

  private async work(worker: number): Promise<void> {
    for (let seq = 0; this.running; seq++) {
      const start = performance.now();
      try {
        await this.op(worker, seq);
        const end = performance.now();
        if (this.measuring) this.latencies.push(end - start);
      } catch (_err) {
        if (this.measuring) this.errors++;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  }

  /** Measures for `ms` after the load is already running. */
  async measure(ms: number): Promise<LoadResult> {
    this.latencies = [];
    this.errors = 0;
    this.measuring = true;
    const start = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    this.measuring = false;
    const seconds = (performance.now() - start) / 1000;
    const sorted = Float64Array.from(this.latencies).sort();
    return {
      concurrency: this.concurrency,
      ops: sorted.length,
      errors: this.errors,
      seconds,
      throughput: sorted.length / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
    };
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }
}

/** Runs a load at one concurrency: warm up, measure, stop. */
export async function runLevel(
  op: WriteOp,
  concurrency: number,
  warmupMs: number,
  measureMs: number,
): Promise<LoadResult> {
  const load = new Load(op, concurrency);
  await new Promise((r) => setTimeout(r, warmupMs));
  const result = await load.measure(measureMs);
  await load.stop();
  return result;
}

/**
 * Failover: under load, `kill()` the leader, then time until a probe write
 * commits. The probe retries at once with a short deadline, so that what is
 * measured is how long the cluster cannot commit, not how long a client library
 * keeps a request that was sent into the election (etcd holds those up to 7 s).
 */
export async function measureFailover(
  op: WriteOp,
  concurrency: number,
  kill: () => Promise<void>,
  probe: () => Promise<unknown>,
): Promise<number> {
  const load = new Load(op, concurrency);
  await new Promise((r) => setTimeout(r, 1_000));
  const killedAt = performance.now();
  await kill();
  try {
    while (performance.now() - killedAt < 60_000) {
      try {
        await probe();
        return performance.now() - killedAt;
      } catch (_err) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    throw new Error("no commit within 60 s of the kill");
  } finally {
    await load.stop();
  }
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
