// Every refusal of the graph is a GraphError with a code, so that callers
// (the recovery coordinator, the API) can map it to a typed rejection
// instead of parsing a message.

export type GraphErrorCode =
  | "bad-schema"
  | "unknown-kind"
  | "unknown-relation"
  | "unknown-attribute"
  | "bad-attribute-value"
  | "duplicate-resource"
  | "no-such-resource"
  | "no-such-edge"
  | "bad-id"
  | "bad-data";

export class GraphError extends Error {
  constructor(
    readonly code: GraphErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "GraphError";
  }
}
