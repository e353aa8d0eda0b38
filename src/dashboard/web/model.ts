// The page's copy of the resource graph: the whole graph at connect, then each
// applied entry's changes, exactly as the WatchGraph stream sends them
// (attribute values as JSON text).

export interface Resource {
  id: string;
  kind: string;
  attrs: Record<string, unknown>;
}

export interface Edge {
  from: string;
  relation: string;
  to: string;
}

export interface WireResource {
  id: string;
  kind: string;
  attributes: Record<string, string>;
}

export interface WireChange {
  op: number;
  id: string;
  kind: string;
  key: string;
  valueJson: string;
  oldJson: string;
  from: string;
  relation: string;
  to: string;
  attributes: Record<string, string>;
}

// GraphChangeOp in proto/halon/v1/client.proto.
const ADD = 1;
const REMOVE = 2;
const SET = 3;
const UNSET = 4;
const CONNECT = 5;
const DISCONNECT = 6;

function parseAttrs(a: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) out[k] = JSON.parse(v);
  return out;
}

export class GraphModel {
  readonly resources = new Map<string, Resource>();
  edges: Edge[] = [];

  static from(view: { resources: WireResource[]; edges: Edge[] }): GraphModel {
    const g = new GraphModel();
    for (const r of view.resources)
      g.resources.set(r.id, { id: r.id, kind: r.kind, attrs: parseAttrs(r.attributes) });
    g.edges = view.edges.slice();
    return g;
  }

  apply(changes: WireChange[]): void {
    for (const c of changes) {
      switch (c.op) {
        case ADD:
          this.resources.set(c.id, { id: c.id, kind: c.kind, attrs: parseAttrs(c.attributes) });
          break;
        case REMOVE:
          this.resources.delete(c.id);
          this.edges = this.edges.filter((e) => e.from !== c.id && e.to !== c.id);
          break;
        case SET: {
          const r = this.resources.get(c.id);
          if (r) r.attrs = { ...r.attrs, [c.key]: JSON.parse(c.valueJson) };
          break;
        }
        case UNSET: {
          const r = this.resources.get(c.id);
          if (r) {
            const { [c.key]: _gone, ...rest } = r.attrs;
            r.attrs = rest;
          }
          break;
        }
        case CONNECT:
          this.edges.push({ from: c.from, relation: c.relation, to: c.to });
          break;
        case DISCONNECT:
          this.edges = this.edges.filter(
            (e) => !(e.from === c.from && e.relation === c.relation && e.to === c.to),
          );
          break;
      }
    }
  }

  /** Targets of `from`'s edges of `relation`, of `kind` when given, sorted by id. */
  out(from: string, relation: string, kind?: string): Resource[] {
    return this.edges
      .filter((e) => e.from === from && e.relation === relation)
      .map((e) => this.resources.get(e.to))
      .filter((r): r is Resource => r !== undefined && (kind === undefined || r.kind === kind))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  ofKind(kind: string): Resource[] {
    return [...this.resources.values()].filter((r) => r.kind === kind).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}

/**
 * The colour class of a resource. A process the coordinator is recovering
 * (it failed, and its respawn has not yet reported back) shows as failed
 * until it is online again, unless its node is away: then it shows that
 * nobody knows (unknown) or that it is off (offline), as the graph says.
 */
export function displayState(r: Resource): string {
  const state = typeof r.attrs.state === "string" ? r.attrs.state : "unknown";
  if (r.kind === "Process" && r.attrs.recovering === true && (state === "starting" || state === "failed"))
    return "failed";
  return state;
}

// What the server sends on the status stream (built by ../snapshot.ts).

export interface ReplicaRow {
  id: string;
  address: string;
  reachable: boolean;
  role: string;
  term: number | null;
  commitIndex: number | null;
  appliedIndex: number | null;
  /** How far its applied index is behind the highest commit index any replica reported. */
  lag: number | null;
  stateHash: string;
  error?: string;
}

export interface StatusMessage {
  self: ReplicaRow;
  replicas: ReplicaRow[];
  epoch: number;
  outbox: { id: string; target: string; kind: string }[];
}
