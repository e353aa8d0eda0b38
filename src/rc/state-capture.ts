// A snapshot of the coordinator's state taken in two steps, the way
// hashicorp/raft splits Snapshot() from Persist(): capture() is quick and runs
// between two applied entries (the small parts of the state are encoded at
// once, the graph is frozen copy-on-write); persist() then encodes the graph a
// slice at a time, yielding to the event loop between slices, so that Raft
// keeps answering while a 10,000-host state is serialised. The bytes are
// exactly those snapshot() returns at the same index, and their SHA-256 is the
// state hash there.
import { resourceData, type Edge, type FrozenGraph, type Resource } from "../graph/index.js";
import { sha256Hasher } from "../util/hash.js";

/**
 * Resources encoded per slice: a few milliseconds of work between two turns of
 * the event loop (less when most encodings are cached from the last capture).
 */
export const RESOURCES_PER_SLICE = 1_000;

/** One field of the state: its JSON now, or a function that gives it in a later turn. */
export type FieldPiece = { name: string; json: string } | { name: string; later: () => string };

export interface CapturedState {
  bytes: Uint8Array;
  /** SHA-256 of the bytes, hex: the state hash at the captured index. */
  hash: string;
}

export class StateCapture {
  private result: Promise<CapturedState> | null = null;
  private released = false;

  /**
   * @param head the fields of the state before "graph", in key order
   * @param tail the fields after it
   */
  constructor(
    readonly index: number,
    private readonly head: readonly FieldPiece[],
    private readonly graph: FrozenGraph,
    private readonly tail: readonly FieldPiece[],
    private readonly perSlice = RESOURCES_PER_SLICE,
  ) {}

  /** Encodes the captured state (once; later calls share the result) and releases the frozen graph. */
  encoded(): Promise<CapturedState> {
    if (this.released && this.result === null) return Promise.reject(new Error("capture already released"));
    this.result ??= this.encode().finally(() => this.release());
    return this.result;
  }

  /** The bytes alone (the Raft driver's StateCapture). */
  async persist(): Promise<Uint8Array> {
    return (await this.encoded()).bytes;
  }

  /** Lets the graph stop keeping copies for this capture (when it will not be persisted). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.graph.release();
  }

  private async encode(): Promise<CapturedState> {
    const ids = this.graph.ids; // sorted
    const resources: string[] = [];
    const edges: string[] = [];
    for (let start = 0; start < ids.length; start += this.perSlice) {
      const res: string[] = [];
      const out: string[] = [];
      for (let i = start; i < Math.min(ids.length, start + this.perSlice); i++) {
        // Cached on the resource until it changes: only what changed since the last capture is encoded.
        const enc = this.graph.encoded(ids[i] as string, encodeResource);
        const cut = enc.indexOf("\n");
        res.push(enc.slice(0, cut));
        if (cut < enc.length - 1) out.push(enc.slice(cut + 1));
      }
      resources.push(res.join(","));
      if (out.length > 0) edges.push(out.join(","));
      await nextTurn();
    }
    const fields = async (list: readonly FieldPiece[]): Promise<string> => {
      const out: string[] = [];
      for (const f of list) {
        if ("json" in f) out.push(`${f.name}:${f.json}`);
        else {
          out.push(`${f.name}:${f.later()}`);
          await nextTurn();
        }
      }
      return out.join(",");
    };
    const head = await fields(this.head);
    const tail = await fields(this.tail);
    // The same text as JSON.stringify of the whole state: keys sorted, "edges" before "resources".
    const pieces = [
      `{${head},"graph":{"edges":[`,
      edges.join(","),
      `],"resources":[`,
      ...resources.flatMap((r, i) => (i === 0 ? [r] : [",", r])),
      `]},${tail}}`,
    ];
    const hash = sha256Hasher();
    const buffers: Buffer[] = [];
    for (const [i, p] of pieces.entries()) {
      const b = Buffer.from(p, "utf8");
      hash.update(b);
      buffers.push(b);
      if (i % 16 === 15) await nextTurn();
    }
    return { bytes: Buffer.concat(buffers), hash: hash.hex() };
  }
}

/**
 * A resource and its outgoing edges as the canonical JSON lists them, on two
 * lines (JSON text never holds a raw newline): `[id,kind,attrs]` and
 * `[from,relation,to],...` ("" without edges).
 */
function encodeResource(r: Resource, edges: Edge[]): string {
  let out = JSON.stringify(resourceData(r.id, r)) + "\n";
  for (let i = 0; i < edges.length; i++) {
    const e = edges[i] as Edge;
    out += (i > 0 ? "," : "") + JSON.stringify([e.from, e.relation, e.to]);
  }
  return out;
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
