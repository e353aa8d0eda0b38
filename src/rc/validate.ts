// Checks every field of an incoming event and turns it into a DomainEvent.
// Nothing here looks at the graph: whether the resources exist is the rules'
// question. A refusal is an RcRejection with a stable code.
import type { DeclaredHost, Event, TopologyDeclared } from "../gen/halon/v1/events.js";
import { RcRejection, type DomainEvent } from "./domain.js";

const ID = /^[^\s\p{Cc}]{1,256}$/u;

/**
 * The bound of every field (docs/api.md, "Bounds"). Numbers stay far below
 * 2^53, so that everything derived from them (instance + 1 on every respawn,
 * the next epoch, a timer's due time) stays an exact integer the graph accepts.
 */
export const BOUNDS = {
  /** Characters of an id (no spaces or control characters). */
  idChars: 256,
  /** Characters of a free-text field (reason, address, command, serial, detail...). */
  textChars: 4096,
  /** A process instance (2^48): room for 2^53 - 2^48 respawns after the largest one reported. */
  instance: 2 ** 48,
  /** A cluster epoch a node reports (2^48). */
  epoch: 2 ** 48,
  /** Log time, ms since 1970 (2^48: the year 10889); a timer's due time stays safe past it. */
  timeMs: 2 ** 48,
  /** Bytes of an opaque event's payload. */
  opaquePayloadBytes: 64 * 1024,
  declaredHosts: 100_000,
  disksPerHost: 1_024,
  processesPerHost: 1_024,
  servicesPerProcess: 256,
  declaredPools: 10_000,
  disksPerPool: 100_000,
} as const;

const MAX_TEXT = BOUNDS.textChars;
const MAX_DECLARED_HOSTS = BOUNDS.declaredHosts;

function fail(reason: string): never {
  throw new RcRejection("bad-field", reason);
}

/** ID.test(value), without the regular expression for the usual ids (printable ASCII). */
function isId(value: string): boolean {
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return ID.test(value);
  }
  return n >= 1 && n <= BOUNDS.idChars;
}

export function checkIdField(value: unknown, field: string): string {
  if (typeof value !== "string" || !isId(value))
    fail(`${field} must be 1 to 256 characters with no spaces or control characters`);
  return value;
}

function optionalId(value: unknown, field: string): string {
  if (value === "" || value === undefined) return "";
  return checkIdField(value, field);
}

function text(value: unknown, field: string): string {
  if (value === undefined) return "";
  if (typeof value !== "string" || value.length > MAX_TEXT)
    fail(`${field} must be a string of at most ${MAX_TEXT} characters`);
  return value;
}

function count(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max)
    fail(`${field} must be an integer from ${min} to ${max}`);
  return value;
}

function list<T>(value: readonly T[] | undefined, field: string, max: number): readonly T[] {
  if (!Array.isArray(value) || value.length > max) fail(`${field} must be a list of at most ${max}`);
  return value;
}

/** The names of an event's body fields (the proto's oneof), in declaration order. */
export const EVENT_BODIES = [
  "processFailed",
  "processStarted",
  "processLocalRestart",
  "nodeHeartbeat",
  "nodeJoined",
  "nodeSilent",
  "stripingError",
  "diskFailed",
  "diskReplaced",
  "nodeDrained",
  "topologyDeclared",
  "epochRequest",
  "commandResult",
  "opaque",
] as const;

/** The event's id, checked, or a rejection (an event without a valid id cannot be deduplicated). */
export function eventId(ev: Event): string {
  return checkIdField(ev.id, "id");
}

/** Validates one event. Throws RcRejection. */
export function validateEvent(ev: Event): DomainEvent {
  eventId(ev);
  return validateBody(ev);
}

/** validateEvent() but the id (for a caller that checked it with eventId()). Throws RcRejection. */
export function validateBody(ev: Event): DomainEvent {
  text(ev.source, "source");
  let bodies = 0;
  for (const b of EVENT_BODIES) if (ev[b] !== undefined) bodies++;
  if (bodies > 1)
    throw new RcRejection(
      "several-bodies",
      `body: the event has several bodies (${EVENT_BODIES.filter((b) => ev[b] !== undefined).join(", ")}); one is allowed`,
    );
  if (bodies === 0) return { type: "unknown", name: "(no body this version knows)" };
  if (ev.processFailed) {
    const b = ev.processFailed;
    return {
      type: "process-failed",
      processId: checkIdField(b.processId, "process_failed.process_id"),
      instance: count(b.instance, "process_failed.instance", 1, BOUNDS.instance),
      reason: text(b.reason, "process_failed.reason"),
    };
  }
  if (ev.processStarted) {
    const b = ev.processStarted;
    return {
      type: "process-started",
      processId: checkIdField(b.processId, "process_started.process_id"),
      instance: count(b.instance, "process_started.instance", 1, BOUNDS.instance),
    };
  }
  if (ev.processLocalRestart) {
    const b = ev.processLocalRestart;
    return {
      type: "process-local-restart",
      processId: checkIdField(b.processId, "process_local_restart.process_id"),
      instance: count(b.instance, "process_local_restart.instance", 1, BOUNDS.instance),
      reason: text(b.reason, "process_local_restart.reason"),
    };
  }
  if (ev.nodeHeartbeat) {
    const b = ev.nodeHeartbeat;
    return {
      type: "node-heartbeat",
      nodeId: checkIdField(b.nodeId, "node_heartbeat.node_id"),
      epoch: count(b.epoch, "node_heartbeat.epoch", 0, BOUNDS.epoch),
    };
  }
  if (ev.nodeJoined) {
    const b = ev.nodeJoined;
    return {
      type: "node-joined",
      nodeId: checkIdField(b.nodeId, "node_joined.node_id"),
      hostId: checkIdField(b.hostId, "node_joined.host_id"),
      address: text(b.address, "node_joined.address"),
      epoch: count(b.epoch, "node_joined.epoch", 0, BOUNDS.epoch),
    };
  }
  if (ev.nodeSilent)
    return { type: "node-silent", nodeId: checkIdField(ev.nodeSilent.nodeId, "node_silent.node_id") };
  if (ev.stripingError) {
    const b = ev.stripingError;
    return {
      type: "striping-error",
      poolId: checkIdField(b.poolId, "striping_error.pool_id"),
      diskId: checkIdField(b.diskId, "striping_error.disk_id"),
    };
  }
  if (ev.diskFailed)
    return { type: "disk-failed", diskId: checkIdField(ev.diskFailed.diskId, "disk_failed.disk_id") };
  if (ev.diskReplaced) {
    const b = ev.diskReplaced;
    return {
      type: "disk-replaced",
      diskId: checkIdField(b.diskId, "disk_replaced.disk_id"),
      serial: text(b.serial, "disk_replaced.serial"),
    };
  }
  if (ev.nodeDrained)
    return { type: "node-drained", nodeId: checkIdField(ev.nodeDrained.nodeId, "node_drained.node_id") };
  if (ev.topologyDeclared)
    return { type: "topology-declared", topology: validateTopology(ev.topologyDeclared) };
  if (ev.epochRequest)
    return { type: "epoch-request", nodeId: checkIdField(ev.epochRequest.nodeId, "epoch_request.node_id") };
  if (ev.commandResult) {
    const b = ev.commandResult;
    if (typeof b.ok !== "boolean") fail("command_result.ok must be a boolean");
    return {
      type: "command-result",
      commandId: checkIdField(b.commandId, "command_result.command_id"),
      ok: b.ok,
      detail: text(b.detail, "command_result.detail"),
      nodeId: optionalId(b.nodeId, "command_result.node_id"),
    };
  }
  const opaque = ev.opaque as NonNullable<Event["opaque"]>;
  if (!(opaque.payload instanceof Uint8Array) || opaque.payload.length > BOUNDS.opaquePayloadBytes)
    fail(`opaque.payload must be at most ${BOUNDS.opaquePayloadBytes} bytes`);
  return { type: "unknown", name: checkIdField(opaque.type, "opaque.type") };
}

/**
 * Checks a declaration as a whole: every id valid, no id used twice for
 * different things, every pool disk declared on some host (or already in the
 * graph: the rules check that part).
 */
export function validateTopology(t: TopologyDeclared): TopologyDeclared {
  optionalId(t.clusterName, "topology_declared.cluster_name");
  if (!Array.isArray(t.hosts) || t.hosts.length > MAX_DECLARED_HOSTS)
    fail(`topology_declared.hosts must be a list of at most ${MAX_DECLARED_HOSTS}`);
  const seen = new Map<string, string>();
  const claim = (id: string, what: string): void => {
    const before = seen.get(id);
    if (before !== undefined && before !== what)
      throw new RcRejection(
        "conflict",
        `topology_declared: id "${id}" is declared both as ${before} and as ${what}`,
      );
    if (before === what && what !== "rack" && what !== "enclosure" && what !== "service")
      throw new RcRejection("conflict", `topology_declared: ${what} "${id}" is declared twice`);
    seen.set(id, what);
  };
  t.hosts.forEach((h: DeclaredHost, i) => {
    const at = `topology_declared.hosts[${i}]`;
    claim(checkIdField(h.id, `${at}.id`), "host");
    claim(checkIdField(h.rackId, `${at}.rack_id`), "rack");
    claim(checkIdField(h.enclosureId, `${at}.enclosure_id`), "enclosure");
    text(h.address, `${at}.address`);
    text(h.infraEndpoint, `${at}.infra_endpoint`);
    if (h.nodeId !== "") claim(checkIdField(h.nodeId, `${at}.node_id`), "node");
    list(h.disks, `${at}.disks`, BOUNDS.disksPerHost);
    list(h.processes, `${at}.processes`, BOUNDS.processesPerHost);
    if (h.processes.length > 0 && h.nodeId === "") fail(`${at}: processes need a node_id to run on`);
    h.disks.forEach((d, j) => {
      claim(checkIdField(d.id, `${at}.disks[${j}].id`), "disk");
      text(d.serial, `${at}.disks[${j}].serial`);
    });
    h.processes.forEach((p, j) => {
      claim(checkIdField(p.id, `${at}.processes[${j}].id`), "process");
      text(p.command, `${at}.processes[${j}].command`);
      list(p.serviceIds, `${at}.processes[${j}].service_ids`, BOUNDS.servicesPerProcess).forEach((s, k) =>
        claim(checkIdField(s, `${at}.processes[${j}].service_ids[${k}]`), "service"),
      );
    });
  });
  list(t.pools, "topology_declared.pools", BOUNDS.declaredPools).forEach((p, i) => {
    claim(checkIdField(p.id, `topology_declared.pools[${i}].id`), "pool");
    list(p.diskIds, `topology_declared.pools[${i}].disk_ids`, BOUNDS.disksPerPool).forEach((d, j) =>
      checkIdField(d, `topology_declared.pools[${i}].disk_ids[${j}]`),
    );
  });
  return t;
}
