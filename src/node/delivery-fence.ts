// The node service's fence against deposed leaders, as one pure check: a
// delivery names its leader's term; the node obeys it only when that term is
// not older than the highest term it has seen (term-store.ts keeps that one on
// disk). node-service.ts runs it on every ExecuteCommand; the coordinator
// simulator runs the same function in its in-memory node services.
import type { Command } from "../gen/halon/v1/events.js";

export interface FenceRefusal {
  /** "invalid": the delivery is malformed; "stale": it comes from a term that is over. */
  kind: "invalid" | "stale";
  detail: string;
}

/** Why a delivery of `command` in `term` by `leaderId` must be refused, or null to obey it. */
export function fenceDelivery(
  command: Command,
  term: number,
  leaderId: string,
  highestTerm: number,
): FenceRefusal | null {
  if (!Number.isSafeInteger(term) || term < 1)
    return { kind: "invalid", detail: `term ${term} is not a term: a delivery needs its leader's term` };
  if (command.issuedTerm > term)
    return {
      kind: "invalid",
      detail: `command ${command.id} was issued in term ${command.issuedTerm}, after the delivering leader's term ${term}`,
    };
  if (term < highestTerm)
    return {
      kind: "stale",
      detail: `term ${term} of leader ${leaderId} is older than term ${highestTerm} already seen: that leader was deposed`,
    };
  return null;
}
