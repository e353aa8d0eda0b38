// Errors a handler answers with: a gRPC status and a sentence for a person.
// Status messages travel in HTTP/2 trailers, whose size the peer limits: a
// message echoing a 100 KB id would break the caller's connection, so every
// message is bounded here, and handlers quote client input with quote().
import { status, type ServiceError } from "@grpc/grpc-js";

/** The longest status message sent, in characters. */
export const MAX_STATUS_MESSAGE = 1024;
/** The longest piece of client input quoted in a message, in characters. */
export const MAX_QUOTED_INPUT = 64;

export class GrpcError extends Error {
  readonly details: string;

  constructor(
    readonly code: status,
    details: string,
  ) {
    const bounded = bound(details, MAX_STATUS_MESSAGE);
    super(bounded);
    this.details = bounded;
    this.name = "GrpcError";
  }
}

/** Client input in a message: JSON-quoted (control characters escaped) and cut to MAX_QUOTED_INPUT. */
export function quote(input: string): string {
  if (input.length <= MAX_QUOTED_INPUT) return JSON.stringify(input);
  return `${JSON.stringify(input.slice(0, MAX_QUOTED_INPUT))}… (${input.length} characters)`;
}

/** The shape grpc-js callbacks accept as an error. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof GrpcError) return { code: err.code, details: err.details, message: err.details };
  const message = bound(err instanceof Error ? err.message : String(err), MAX_STATUS_MESSAGE);
  return { code: status.INTERNAL, details: message, message };
}

function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  // Cut on a code point boundary, so the message stays valid UTF-16.
  let cut = max - 1;
  const c = text.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}
