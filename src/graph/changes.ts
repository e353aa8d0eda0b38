// What changed in a graph, one step at a time, so that a watcher that applies
// the same steps to its own copy ends with the same graph.
import type { AttrValue } from "./values.js";

export type GraphChange =
  | { op: "add"; id: string; kind: string; attrs: Record<string, AttrValue> }
  | { op: "remove"; id: string; kind: string }
  | { op: "set"; id: string; key: string; value: AttrValue; old: AttrValue | null }
  | { op: "unset"; id: string; key: string; old: AttrValue }
  | { op: "connect"; from: string; relation: string; to: string }
  | { op: "disconnect"; from: string; relation: string; to: string };
