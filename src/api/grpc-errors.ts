// Errors a handler answers with: a gRPC status and a sentence for a person.
import { status, type ServiceError } from "@grpc/grpc-js";

export class GrpcError extends Error {
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
    this.name = "GrpcError";
  }
}

/** The shape grpc-js callbacks accept as an error. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof GrpcError) return { code: err.code, details: err.details, message: err.details };
  const message = err instanceof Error ? err.message : String(err);
  return { code: status.INTERNAL, details: message, message };
}
