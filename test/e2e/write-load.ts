// A steady write load for end-to-end tests: a few concurrent proposers that
// record every acknowledged proposal (its log index and its position in the
// applied sequence), so a test can check that none was lost or doubled.
import type { ClusterClient } from "../../src/api/cluster-client.js";

export interface Ack {
  payload: string;
  index: number;
  term: number;
  /** The payload's position in the applied sequence (the test state machine's answer). */
  position: number;
}

export class WriteLoad {
  readonly acks: Ack[] = [];
  readonly errors: string[] = [];
  private running = true;
  private readonly workers: Promise<void>[] = [];
  private counter = 0;

  constructor(
    private readonly client: ClusterClient,
    concurrency = 4,
  ) {
    for (let w = 0; w < concurrency; w++) this.workers.push(this.work(w));
  }

  private async work(worker: number): Promise<void> {
    while (this.running) {
      const payload = `w${worker}-${this.counter++}`;
      try {
        const res = await this.client.propose(Buffer.from(payload));
        this.acks.push({
          payload,
          index: res.index,
          term: res.term,
          position: Number(res.result.readBigUInt64BE(0)),
        });
      } catch (err) {
        this.errors.push(String(err));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  /** Problems that mean an acknowledged proposal was lost or applied twice. */
  problems(finalCount: number): string[] {
    const out: string[] = [];
    const byIndex = new Map<number, Ack>();
    const byPosition = new Map<number, Ack>();
    for (const a of this.acks) {
      const i = byIndex.get(a.index);
      if (i) out.push(`index ${a.index} acknowledged for ${i.payload} and ${a.payload}`);
      byIndex.set(a.index, a);
      const p = byPosition.get(a.position);
      if (p) out.push(`position ${a.position} acknowledged for ${p.payload} and ${a.payload}`);
      byPosition.set(a.position, a);
      if (a.position > finalCount)
        out.push(`${a.payload} at position ${a.position} is past the final count ${finalCount}`);
    }
    return out;
  }
}

/** The count part of a replica's state hash "count:sha256". */
export function countOf(stateHash: string): number {
  return Number(stateHash.split(":")[0]);
}
