// GetHistory and Explain: what this replica applied recently, cause by cause,
// and why a resource is in its state. Both read the replica's own History
// (src/rc/history.ts), fed by the state machine's trace of the production path.
import { status } from "@grpc/grpc-js";
import type {
  ExplainRequest,
  ExplainResponse,
  GetHistoryRequest,
  GetHistoryResponse,
  HistoryEntry,
} from "../gen/halon/v1/client.js";
import { causeLine, stepLines, type HistoryItem } from "../rc/index.js";
import { GrpcError } from "./grpc-errors.js";
import { neighbourhood } from "./graph-view.js";
import type { RcAccess } from "./rc-service.js";

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 1_000;
const ID = /^[^\s\p{Cc}]{1,256}$/u;

function requireResourceId(id: string): string {
  if (!ID.test(id)) throw new GrpcError(status.INVALID_ARGUMENT, `resource_id: "${id}" is not a resource id`);
  return id;
}

/** A history item as a message; `only` keeps the steps about one resource. */
export function historyEntry(item: HistoryItem, only?: string): HistoryEntry {
  return {
    index: item.index,
    timeMs: item.timeMs,
    cause: causeLine(item),
    resourceIds: item.resources,
    steps: stepLines(item, only),
    detailJson: JSON.stringify({
      cause: item.cause,
      rules: item.rules,
      changes: item.changes,
      commands: item.commands,
    }),
  };
}

/** What history and explain read: the applied state and its history (a replica's, or a replay's). */
export type HistorySource = Pick<RcAccess, "machine" | "history">;

export function getHistory(replicaId: string, rc: HistorySource, req: GetHistoryRequest): GetHistoryResponse {
  const only = req.resourceId === "" ? undefined : requireResourceId(req.resourceId);
  const limit = req.limit === 0 ? DEFAULT_LIMIT : Math.min(req.limit, MAX_LIMIT);
  return {
    entries: rc.history.recent(limit, only).map((i) => historyEntry(i, only)),
    appliedIndex: rc.machine.lastApplied,
    keptFromIndex: rc.history.keptFromIndex,
    replicaId,
  };
}

export function explain(replicaId: string, rc: HistorySource, req: ExplainRequest): ExplainResponse {
  const id = requireResourceId(req.resourceId);
  const x = rc.history.explain(rc.machine.graph, id);
  if (!x)
    throw new GrpcError(
      status.NOT_FOUND,
      `resource_id: no resource "${id}" in the graph (at index ${rc.machine.lastApplied})`,
    );
  const view = neighbourhood(rc.machine.graph, id)!;
  return {
    resource: view.resources.find((r) => r.id === id),
    summary: x.summary,
    steps: x.steps.map((i) => historyEntry(i, id)),
    appliedIndex: rc.machine.lastApplied,
    keptFromIndex: x.keptFromIndex,
    replicaId,
  };
}
