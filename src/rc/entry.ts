// How the coordinator's log entries and results are encoded: protobuf
// messages from proto/halon/v1/events.proto. The replica process uses these
// helpers to build what it proposes and to read what apply() returned.
import {
  Event,
  RcApplyResult,
  RcEntry,
  type Event as EventMessage,
  type RcApplyResult as RcApplyResultMessage,
} from "../gen/halon/v1/events.js";

export function encodeEventBatch(timeMs: number, events: EventMessage[]): Uint8Array {
  return RcEntry.encode({ events: { timeMs, events } }).finish();
}

export function encodeTick(timeMs: number): Uint8Array {
  return RcEntry.encode({ tick: { timeMs } }).finish();
}

/** A rules-version entry; `disabledRules` switches those rules off (the list replaces the one before). */
export function encodeRulesVersion(
  version: number,
  timeMs: number,
  disabledRules: string[] = [],
): Uint8Array {
  return RcEntry.encode({ rulesVersion: { version, timeMs, disabledRules } }).finish();
}

/** A state-check entry: the proposing replica's state hash at `index` (see StateCheck in events.proto). */
export function encodeStateCheck(timeMs: number, index: number, hash: string, replicaId: string): Uint8Array {
  return RcEntry.encode({ stateCheck: { timeMs, index, hash, replicaId } }).finish();
}

export function decodeApplyResult(bytes: Uint8Array): RcApplyResultMessage {
  return RcApplyResult.decode(bytes);
}

/** Builds an event message from a partial (tests, CLI). */
export function makeEvent(fields: Partial<EventMessage> & { id: string }): EventMessage {
  return Event.fromPartial(fields);
}
