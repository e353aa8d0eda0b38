// The first schema of a Halon cluster (DESIGN.md, "Resource graph"). It is
// data for the graph library; the library itself knows nothing of it.
import type { GraphSchema } from "./schema.js";

export const HOST_STATES = ["online", "transient", "down"] as const;
/**
 * "unknown": its node is transient, so nobody can tell whether it runs;
 * "offline": its node is down (docs/rc.md, "What the graph says").
 */
export const PROCESS_STATES = ["starting", "online", "failed", "stopped", "unknown", "offline"] as const;
export const DISK_STATES = ["online", "failed", "repairing"] as const;
/** "unknown": every process that provides it is on a transient node. */
export const SERVICE_STATES = ["up", "down", "unknown"] as const;

export const HALON_SCHEMA: GraphSchema = {
  kinds: [
    {
      name: "Cluster",
      root: true,
      attributes: { name: { type: "string" }, epoch: { type: "number", integer: true, min: 0 } },
    },
    { name: "Rack", attributes: {} },
    { name: "Enclosure", attributes: {} },
    {
      name: "Host",
      attributes: {
        state: { type: "string", values: HOST_STATES },
        address: { type: "string" },
        infraEndpoint: { type: "string" },
      },
    },
    {
      name: "Node",
      attributes: {
        state: { type: "string", values: HOST_STATES },
        /** The last cluster epoch this node service acknowledged. */
        ackedEpoch: { type: "number", integer: true, min: 0 },
        /** Log time of the last heartbeat recorded. */
        lastSeen: { type: "number", min: 0 },
        respawnAttempts: { type: "number", integer: true, min: 0 },
        drained: { type: "boolean" },
        /** Where the node service listens. */
        address: { type: "string" },
      },
    },
    {
      name: "Process",
      attributes: {
        state: { type: "string", values: PROCESS_STATES },
        /** Which run of the process this is; a failure of an older instance is stale. */
        instance: { type: "number", integer: true, min: 0 },
        localRestarts: { type: "number", integer: true, min: 0 },
        respawns: { type: "number", integer: true, min: 0 },
        /** True while the coordinator is recovering it (respawns in progress). */
        recovering: { type: "boolean" },
        command: { type: "string" },
        /** While its node is away: the state it had (or was given) before; it returns to it. */
        lastKnown: { type: "string", values: PROCESS_STATES },
      },
    },
    {
      name: "Service",
      attributes: {
        state: { type: "string", values: SERVICE_STATES },
        /** While its providers' nodes are away: the state it had before. */
        lastKnown: { type: "string", values: SERVICE_STATES },
      },
    },
    {
      name: "Disk",
      attributes: { state: { type: "string", values: DISK_STATES }, serial: { type: "string" } },
    },
    {
      name: "Pool",
      attributes: {
        epoch: { type: "number", integer: true, min: 0 },
        /** Ids of the pool's disks that are not healthy, sorted. */
        failureVector: { type: "json" },
      },
    },
  ],
  relations: [
    { name: "has", from: "Cluster", to: "Rack", out: "many", in: "one" },
    { name: "has", from: "Rack", to: "Enclosure", out: "many", in: "one" },
    { name: "has", from: "Enclosure", to: "Host", out: "many", in: "one" },
    { name: "runs", from: "Host", to: "Node", out: "one", in: "one" },
    { name: "runs", from: "Node", to: "Process", out: "many", in: "one" },
    { name: "provides", from: "Process", to: "Service", out: "many", in: "many" },
    { name: "has", from: "Host", to: "Disk", out: "many", in: "one" },
    { name: "uses", from: "Pool", to: "Disk", out: "many", in: "one" },
    { name: "has", from: "Cluster", to: "Pool", out: "many", in: "one" },
  ],
};
