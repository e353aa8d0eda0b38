// What the graph shows for the processes and services of a node that is away
// (docs/rc.md, "What the graph says"). While a node is transient nobody can
// tell whether its processes run: they show "unknown"; once it is down they
// show "offline". A service no process on an online node provides shows
// "unknown" or "down" the same way. What a process or service was last
// reported in, or given, is kept in `lastKnown` meanwhile (reports that
// arrive while the node is away land there too), and shown again when the
// node is back. Every process and service state the coordinator writes goes
// through here, so that nothing shows "online" or "up" on a node that is away.
import { compareStrings, type Graph } from "../graph/index.js";

/** What a running or starting process shows while its node is away. */
const PROCESS_AWAY: Readonly<Record<string, string>> = { transient: "unknown", down: "offline" };
/** What an up service shows while every process providing it is on a node that is away. */
const SERVICE_AWAY: Readonly<Record<string, string>> = { transient: "unknown", down: "down" };

/** States a process keeps whatever its node does: they are facts, not guesses. */
function keptWhileAway(state: unknown): boolean {
  return state === "failed" || state === "stopped";
}

/** The state of the node that runs the process ("online" when it has none). */
function nodeStateOf(graph: Graph, pid: string): string {
  const nodeId = graph.neighbour(pid, "runs", "in");
  return nodeId === undefined ? "online" : ((graph.attr(nodeId, "state") as string | undefined) ?? "online");
}

/** The state a process or service was last reported in or given, even while its node is away. */
export function lastKnownState(graph: Graph, id: string): unknown {
  return graph.attr(id, "lastKnown") ?? graph.attr(id, "state");
}

/**
 * Sets a process's attributes (`attrs`, a fresh object it may change), `state`
 * being what was reported or decided. Returns the state of its node.
 * On a node that is away, a running or starting state is kept in lastKnown
 * and the process shows "unknown" or "offline" instead.
 */
export function setProcessState(
  graph: Graph,
  pid: string,
  attrs: { state: string } & Record<string, unknown>,
): string {
  const node = nodeStateOf(graph, pid);
  if (node === "online" || keptWhileAway(attrs.state)) {
    graph.setAttrs(pid, attrs);
    graph.unsetAttr(pid, "lastKnown");
    return node;
  }
  const reported = attrs.state;
  attrs.state = PROCESS_AWAY[node] as string;
  graph.setAttrs(pid, attrs);
  graph.setAttr(pid, "lastKnown", reported);
  return node;
}

/**
 * Sets a service's state: "up" shows only while some process providing it is
 * on an online node; otherwise it is kept in lastKnown and the service shows
 * "unknown" (a provider's node is transient) or "down".
 */
export function setServiceState(graph: Graph, sid: string, state: string, providerOnline = false): void {
  let shown = state;
  // providerOnline: the caller knows a process providing it is on an online node.
  if (state === "up" && !providerOnline) {
    let away = "down";
    for (const p of graph.neighbours(sid, "provides", "in")) {
      const node = nodeStateOf(graph, p);
      if (node === "online") {
        away = "";
        break;
      }
      if (node === "transient") away = "transient";
    }
    if (away !== "") shown = SERVICE_AWAY[away] as string;
  }
  graph.setAttr(sid, "state", shown);
  if (shown !== state) graph.setAttr(sid, "lastKnown", state);
  else graph.unsetAttr(sid, "lastKnown");
}

/**
 * The node running `processes` changed state (away or back): each of them,
 * and the services they provide, shows again what it was last known in.
 */
export function showHosted(graph: Graph, processes: readonly string[]): void {
  const services = new Set<string>();
  for (const pid of processes) {
    const state = lastKnownState(graph, pid) as string | undefined;
    if (state !== undefined && graph.attr(pid, "state") !== undefined) setProcessState(graph, pid, { state });
    for (const s of graph.neighbours(pid, "provides")) services.add(s);
  }
  for (const s of [...services].sort(compareStrings)) {
    const state = lastKnownState(graph, s) as string | undefined;
    if (state !== undefined) setServiceState(graph, s, state);
  }
}

/**
 * What breaks the rules above, one line each (empty when the graph tells the
 * truth): a process that shows running or starting on a node that is away, a
 * process on an online node still keeping a last known state, a service that
 * shows up with no provider on an online node, or one that keeps a last known
 * state although a provider's node is online. Checked by the tests after every
 * entry; linear in the processes and services.
 */
export function shownStateViolations(graph: Graph): string[] {
  const out: string[] = [];
  graph.forEachOfKind("Process", (pid) => {
    const node = nodeStateOf(graph, pid);
    const state = graph.attr(pid, "state");
    if (node !== "online" && (state === "online" || state === "starting"))
      out.push(`process ${pid} shows ${String(state)} on a ${node} node`);
    if (node === "online" && graph.attr(pid, "lastKnown") !== undefined)
      out.push(`process ${pid} keeps lastKnown on an online node`);
  });
  graph.forEachOfKind("Service", (sid) => {
    const online = graph.neighbours(sid, "provides", "in").some((p) => nodeStateOf(graph, p) === "online");
    if (!online && graph.attr(sid, "state") === "up")
      out.push(`service ${sid} shows up with no provider on an online node`);
    if (online && graph.attr(sid, "lastKnown") !== undefined)
      out.push(`service ${sid} keeps lastKnown with a provider on an online node`);
  });
  return out;
}
