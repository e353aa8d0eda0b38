// Authorisation of the client API, checked on every call before the handler
// runs. Each method needs a permission; each role has some:
//   read    status, graph, watch, epoch, outbox,     operator, reader, node, replica
//           rules, history, explain
//   submit  events                                   operator; node (its own events only)
//   operate membership, leader transfer, raw Propose, operator
//           switching rules off and on
//           and the events that declare or change
//           the topology by hand
// Two events are never accepted from a client: NodeSilent and CommandResult
// are the leader's own findings (its failure detector, its deliveries).
import { status, type ServerWritableStream } from "@grpc/grpc-js";
import type { HalonServiceServer, HalonServiceService } from "../gen/halon/v1/client.js";
import type { Event } from "../gen/halon/v1/events.js";
import { GrpcError, toServiceError } from "./grpc-errors.js";
import {
  callerOf,
  describe,
  identityUri,
  type HasAuthContext,
  type Identity,
  type Role,
} from "./identity.js";

/** "session": a node service's lease renewal, for itself only (docs/node.md, "Liveness"). */
export type Permission = "read" | "submit" | "operate" | "session";

const PERMISSIONS: Record<Role, readonly Permission[]> = {
  operator: ["read", "submit", "operate"],
  reader: ["read"],
  node: ["read", "submit", "session"],
  replica: ["read"],
  infra: [],
};

// Keyed by the service definition (its keys are exactly the methods), so that a
// method added to the proto fails to compile until it is given a permission.
export const METHOD_PERMISSION: Record<keyof typeof HalonServiceService, Permission> = {
  getStatus: "read",
  getGraph: "read",
  watchGraph: "read",
  getEpoch: "read",
  getOutbox: "read",
  submitEvents: "submit",
  propose: "operate",
  addMember: "operate",
  promoteMember: "operate",
  removeMember: "operate",
  transferLeadership: "operate",
  getRules: "read",
  changeRules: "operate",
  getHistory: "read",
  explain: "read",
  renewSession: "session",
};

type Body = keyof Omit<Event, "id" | "source">;

/** Events only an operator may submit: they declare or change the topology by hand. */
const OPERATE_EVENTS: readonly Body[] = ["topologyDeclared", "nodeDrained"];
/** Events that only the leader itself proposes. */
const LEADER_EVENTS: readonly Body[] = ["nodeSilent", "commandResult"];
/** What a node service reports, about itself. */
const NODE_EVENTS: readonly Body[] = [
  "processFailed",
  "processStarted",
  "processLocalRestart",
  "nodeHeartbeat",
  "nodeJoined",
  "epochRequest",
  "diskFailed",
  // Its local diagnosis saw its own failed disk replaced or repaired (docs/node.md).
  "diskReplaced",
  "stripingError",
];

/** What the checks need to know of the cluster. */
export interface AuthzContext {
  cluster: string;
  /** The node that runs a process, or the host a disk is attached to's node; undefined when unknown. */
  ownerNode(resourceId: string): string | undefined;
}

/** Every body the event carries (a valid one has at most one; each is checked all the same). */
function bodiesOf(e: Event): Body[] {
  return (Object.keys(e) as (keyof Event)[]).filter(
    (key): key is Body => key !== "id" && key !== "source" && e[key] !== undefined,
  );
}

/** Throws PERMISSION_DENIED for the first event the caller may not submit. */
export function checkEvents(caller: Identity | "insecure", events: Event[], ctx: AuthzContext): void {
  events.forEach((e, i) => {
    const bodies = bodiesOf(e);
    const deny = (why: string) => {
      throw new GrpcError(
        status.PERMISSION_DENIED,
        `events[${i}] (${bodies.join(", ") || "no body"}): ${why}`,
      );
    };
    if (bodies.some((b) => LEADER_EVENTS.includes(b)))
      deny("only the coordinator's leader proposes this event, no client may submit it");
    if (caller === "insecure" || caller.role === "operator") return;
    if (caller.role !== "node") deny(`${describe(caller)} may not submit events`);
    const node = caller.name;
    if (e.source !== node) deny(`node "${node}" may only submit events whose source is "${node}"`);
    if (bodies.some((b) => OPERATE_EVENTS.includes(b))) deny("only an operator may submit this event");
    if (bodies.some((b) => !NODE_EVENTS.includes(b))) deny(`node "${node}" may not submit this event`);
    const about = [e.nodeHeartbeat?.nodeId, e.nodeJoined?.nodeId, e.epochRequest?.nodeId].filter(
      (x): x is string => x !== undefined,
    );
    for (const other of about) if (other !== node) deny(`node "${node}" may not speak for node "${other}"`);
    const owned = [
      e.processFailed?.processId,
      e.processStarted?.processId,
      e.processLocalRestart?.processId,
      e.diskFailed?.diskId,
      e.diskReplaced?.diskId,
    ].filter((x): x is string => x !== undefined);
    for (const resource of owned) {
      const owner = ctx.ownerNode(resource);
      if (owner !== undefined && owner !== node)
        deny(`"${resource}" belongs to node "${owner}", not to node "${node}"`);
    }
  });
}

/** Throws UNAUTHENTICATED or PERMISSION_DENIED unless the caller holds `permission`. */
export function authorize(
  call: HasAuthContext,
  permission: Permission,
  ctx: AuthzContext,
): Identity | "insecure" {
  const caller = callerOf(call, ctx.cluster);
  if (caller === "insecure") return caller;
  if (!PERMISSIONS[caller.role].includes(permission))
    throw new GrpcError(
      status.PERMISSION_DENIED,
      `${describe(caller)} may not ${permission === "operate" ? "operate the cluster" : permission}: ` +
        `this call needs the "${permission}" permission (roles that have it: ${rolesWith(permission).join(", ")})`,
    );
  return caller;
}

function rolesWith(p: Permission): Role[] {
  return (Object.keys(PERMISSIONS) as Role[]).filter((r) => PERMISSIONS[r].includes(p));
}

/** A node renews its own session only: a node cannot keep another alive. */
function checkSession(caller: Identity | "insecure", nodeId: string): void {
  if (caller !== "insecure" && caller.role === "node" && caller.name !== nodeId)
    throw new GrpcError(
      status.PERMISSION_DENIED,
      `node "${caller.name}" may not renew the session of node "${nodeId}": only its own`,
    );
}

/** WatchGraph streams one caller may hold open at once (RESOURCE_EXHAUSTED beyond). */
export const DEFAULT_MAX_WATCHERS_PER_CALLER = 16;

/**
 * The client service with every call authorised first, and WatchGraph
 * streams counted per caller (its identity; with --insecure, its address).
 */
export function authorizedHalonService(
  inner: HalonServiceServer,
  ctx: AuthzContext,
  maxWatchersPerCaller = DEFAULT_MAX_WATCHERS_PER_CALLER,
): HalonServiceServer {
  const wrapped: Record<string, unknown> = {};
  const watchers = new Map<string, number>();
  for (const [name, permission] of Object.entries(METHOD_PERMISSION) as [
    keyof HalonServiceServer,
    Permission,
  ][]) {
    const handler = inner[name] as (call: HasAuthContext, callback?: unknown) => void;
    if (name === "watchGraph") {
      wrapped[name] = (call: ServerWritableStream<unknown, unknown>) => {
        let who: string;
        try {
          const caller = authorize(call, permission, ctx);
          who = caller === "insecure" ? `insecure ${call.getPeer()}` : identityUri(caller);
          const open = watchers.get(who) ?? 0;
          if (open >= maxWatchersPerCaller)
            throw new GrpcError(
              status.RESOURCE_EXHAUSTED,
              `${describe(caller)} already has ${open} WatchGraph streams open (at most ${maxWatchersPerCaller})`,
            );
          watchers.set(who, open + 1);
        } catch (err) {
          call.emit("error", toServiceError(err));
          return;
        }
        let counted = true;
        const release = () => {
          if (!counted) return;
          counted = false;
          const left = (watchers.get(who) ?? 1) - 1;
          if (left <= 0) watchers.delete(who);
          else watchers.set(who, left);
        };
        call.on("close", release);
        call.on("cancelled", release);
        call.on("error", release);
        call.on("finish", release);
        handler(call);
      };
      continue;
    }
    wrapped[name] = (call: HasAuthContext & { request: unknown }, callback: (err: unknown) => void) => {
      try {
        const caller = authorize(call, permission, ctx);
        if (name === "submitEvents") checkEvents(caller, (call.request as { events: Event[] }).events, ctx);
        if (name === "renewSession") checkSession(caller, (call.request as { nodeId: string }).nodeId);
      } catch (err) {
        callback(toServiceError(err));
        return;
      }
      handler(call, callback);
    };
  }
  return wrapped as unknown as HalonServiceServer;
}
