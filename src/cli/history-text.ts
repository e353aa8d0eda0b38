// History and explain as text: one block per cause, its steps indented below.
// `halon history`, `halon explain` and `halon replay` print the same way.
import type { ExplainResponse, GetHistoryResponse, HistoryEntry } from "../gen/halon/v1/client.js";

function when(timeMs: number): string {
  return timeMs > 0 ? new Date(timeMs).toISOString() : "-";
}

export function renderEntries(entries: HistoryEntry[]): string {
  return entries
    .map((e) => [`#${e.index} ${when(e.timeMs)} ${e.cause}`, ...e.steps.map((s) => `    ${s}`)].join("\n"))
    .join("\n");
}

export function renderHistory(res: GetHistoryResponse, resourceId: string): string {
  const what = resourceId === "" ? "" : ` about ${resourceId}`;
  const head = `History${what} on ${res.replicaId} at index ${res.appliedIndex} (complete from index ${res.keptFromIndex}):`;
  return res.entries.length === 0 ? `${head}\n(nothing kept)` : `${head}\n${renderEntries(res.entries)}`;
}

export function renderExplanation(res: ExplainResponse): string {
  const attrs = Object.entries(res.resource?.attributes ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  return [
    res.summary,
    `  ${res.resource?.kind ?? ""} ${res.resource?.id ?? ""}: ${attrs}`,
    `Steps that led to it (${res.replicaId}, index ${res.appliedIndex}, history complete from index ${res.keptFromIndex}):`,
    res.steps.length === 0 ? "(none kept)" : renderEntries(res.steps),
  ].join("\n");
}
