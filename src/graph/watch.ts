// A watcher keeps its own copy of a graph by replaying the changes the source
// recorded; this is the function it replays them with.
import type { GraphChange } from "./changes.js";
import type { Graph } from "./graph.js";

export function applyChanges(graph: Graph, changes: readonly GraphChange[]): void {
  for (const c of changes) {
    switch (c.op) {
      case "add":
        graph.addResource(c.id, c.kind, c.attrs);
        break;
      case "remove":
        graph.removeResource(c.id);
        break;
      case "set":
        graph.setAttr(c.id, c.key, c.value);
        break;
      case "unset":
        graph.unsetAttr(c.id, c.key);
        break;
      case "connect":
        graph.connect(c.from, c.relation, c.to);
        break;
      case "disconnect":
        graph.disconnect(c.from, c.relation, c.to);
        break;
    }
  }
}
