// The resource graph as text for a terminal: the topology as a tree from the
// cluster root (racks, enclosures, hosts, their disks and nodes, processes,
// services), then the pools with their disks and failure vectors.
import type { GraphChange, GraphView } from "../gen/halon/v1/client.js";
import { GraphChangeOp } from "../gen/halon/v1/client.js";

/** The attribute shown right after a resource's kind. */
const HEADLINE = "state";
/** Attributes not worth a line in the tree (shown by `halon graph --id`). */
const QUIET = new Set(["command", "address", "infraEndpoint", "serial"]);

function attrs(r: { attributes: Record<string, string> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.attributes)) out[k] = JSON.parse(v) as unknown;
  return out;
}

function describe(id: string, kind: string, a: Record<string, unknown>): string {
  const parts = [`${id} (${kind})`];
  if (a[HEADLINE] !== undefined) parts.push(String(a[HEADLINE]));
  const rest = Object.keys(a)
    .filter((k) => k !== HEADLINE && !QUIET.has(k))
    .sort()
    .map((k) => `${k}=${JSON.stringify(a[k])}`);
  if (rest.length > 0) parts.push(rest.join(" "));
  return parts.join("  ");
}

export function renderTree(view: GraphView): string {
  const byId = new Map(view.resources.map((r) => [r.id, r]));
  const children = new Map<string, string[]>();
  const pools: string[] = [];
  const poolDisks = new Map<string, string[]>();
  for (const e of view.edges) {
    if (e.relation === "uses") {
      poolDisks.set(e.from, [...(poolDisks.get(e.from) ?? []), e.to]);
      continue;
    }
    if (byId.get(e.to)?.kind === "Pool") {
      pools.push(e.to);
      continue;
    }
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
  }
  const lines: string[] = [];
  const visit = (id: string, prefix: string, last: boolean, root: boolean) => {
    const r = byId.get(id);
    if (!r) return;
    lines.push(
      root
        ? describe(id, r.kind, attrs(r))
        : `${prefix}${last ? "└─ " : "├─ "}${describe(id, r.kind, attrs(r))}`,
    );
    const kids = (children.get(id) ?? []).sort(
      (a, b) => kindOrder(byId.get(a)?.kind) - kindOrder(byId.get(b)?.kind) || (a < b ? -1 : 1),
    );
    const next = root ? "" : prefix + (last ? "   " : "│  ");
    kids.forEach((k, i) => visit(k, next, i === kids.length - 1, false));
  };
  const roots = view.resources.filter((r) => r.kind === "Cluster").map((r) => r.id);
  for (const root of roots) visit(root, "", true, true);
  if (pools.length > 0) lines.push("", "pools:");
  for (const p of pools.sort()) {
    const r = byId.get(p)!;
    const a = attrs(r);
    const failed = (a.failureVector as string[] | undefined) ?? [];
    lines.push(
      `  ${p}  epoch=${String(a.epoch ?? 0)}  disks: ${(poolDisks.get(p) ?? []).sort().join(", ")}  failed: ${failed.join(", ") || "-"}`,
    );
  }
  if (roots.length === 0) lines.push("(the graph is empty: no topology declared yet)");
  return lines.join("\n");
}

/** Disks before nodes under a host, so that the tree reads the same every time. */
function kindOrder(kind: string | undefined): number {
  return ["Rack", "Enclosure", "Host", "Disk", "Node", "Process", "Service"].indexOf(kind ?? "");
}

/** One resource and its edges, for `halon graph --id`. */
export function renderResource(view: GraphView, id: string): string {
  const r = view.resources.find((x) => x.id === id);
  if (!r) return `${id}: not in the graph`;
  const lines = [`${r.id} (${r.kind})`];
  for (const [k, v] of Object.entries(r.attributes).sort(([a], [b]) => (a < b ? -1 : 1)))
    lines.push(`  ${k}: ${v}`);
  const kindOf = (x: string) => view.resources.find((y) => y.id === x)?.kind ?? "?";
  for (const e of view.edges) {
    if (e.from === id) lines.push(`  --${e.relation}--> ${e.to} (${kindOf(e.to)})`);
    else lines.push(`  <--${e.relation}-- ${e.from} (${kindOf(e.from)})`);
  }
  return lines.join("\n");
}

/** One graph change as a line. */
export function renderChange(index: number, c: GraphChange): string {
  switch (c.op) {
    case GraphChangeOp.GRAPH_CHANGE_OP_ADD:
      return `#${index} add ${c.id} (${c.kind})`;
    case GraphChangeOp.GRAPH_CHANGE_OP_REMOVE:
      return `#${index} remove ${c.id} (${c.kind})`;
    case GraphChangeOp.GRAPH_CHANGE_OP_SET:
      return `#${index} set ${c.id}.${c.key} = ${c.valueJson}${c.oldJson === "" ? "" : ` (was ${c.oldJson})`}`;
    case GraphChangeOp.GRAPH_CHANGE_OP_UNSET:
      return `#${index} unset ${c.id}.${c.key} (was ${c.oldJson})`;
    case GraphChangeOp.GRAPH_CHANGE_OP_CONNECT:
      return `#${index} connect ${c.from} --${c.relation}--> ${c.to}`;
    case GraphChangeOp.GRAPH_CHANGE_OP_DISCONNECT:
      return `#${index} disconnect ${c.from} --${c.relation}--> ${c.to}`;
    default:
      return `#${index} (unknown change)`;
  }
}
