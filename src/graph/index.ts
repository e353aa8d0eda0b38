// The typed resource graph library. It knows nothing of Halon; the Halon
// schema is one schema among others.
export { GraphError, type GraphErrorCode } from "./errors.js";
export type { GraphChange } from "./changes.js";
export {
  Graph,
  checkId,
  compareEdges,
  type Direction,
  type Edge,
  type FrozenGraph,
  type GraphSavepoint,
  type Resource,
} from "./graph.js";
export {
  CompiledSchema,
  relationKey,
  type AttrSpec,
  type Cardinality,
  type GraphSchema,
  type KindSpec,
  type RelationSpec,
} from "./schema.js";
export {
  graphCanonicalJson,
  graphFromData,
  graphHash,
  graphToData,
  resourceData,
  type EdgeData,
  type GraphData,
  type ResourceData,
} from "./serialise.js";
export { applyChanges } from "./watch.js";
export {
  attrEquals,
  canonicalJson,
  compareStrings,
  isAttrValue,
  sha256Hex,
  type AttrValue,
} from "./values.js";
export { DISK_STATES, HALON_SCHEMA, HOST_STATES, PROCESS_STATES, SERVICE_STATES } from "./halon-schema.js";
