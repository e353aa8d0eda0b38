// Events written by hand as JSON (the CLI's `events submit`): one object or
// an array, fields in camelCase as in the generated types. Unknown fields are
// errors, so that a misspelt body is not sent as an event with no body.
import { Event } from "../gen/halon/v1/events.js";
import { EVENT_BODIES } from "../rc/validate.js";

const EVENT_FIELDS = new Set([...Object.keys(Event.fromPartial({})), ...EVENT_BODIES]);

/** Parses events; an event without an id gets `newId()`, and "operator" as its source. */
export function parseEvents(text: string, newId: () => string): Event[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`the events are not JSON: ${(err as Error).message}`, { cause: err });
  }
  const list = Array.isArray(parsed) ? (parsed as unknown[]) : [parsed];
  if (list.length === 0) throw new Error("no events given");
  return list.map((raw, i) => {
    const where = Array.isArray(parsed) ? `event [${i}]` : "the event";
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw new Error(`${where} must be a JSON object`);
    const unknown = Object.keys(raw).filter((k) => !EVENT_FIELDS.has(k));
    if (unknown.length > 0)
      throw new Error(
        `${where}: unknown field ${unknown.map((k) => `"${k}"`).join(", ")} (known: ${[...EVENT_FIELDS].join(", ")})`,
      );
    const o = raw as Record<string, unknown>;
    if (o.id !== undefined && typeof o.id !== "string") throw new Error(`${where}: id must be a string`);
    return Event.fromPartial({
      ...o,
      id: (o.id as string | undefined) || newId(),
      source: (o.source as string | undefined) || "operator",
    });
  });
}
