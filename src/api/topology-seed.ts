// The topology a cluster config declares (hosts, nodes, disks, pools,
// processes), as the TopologyDeclared event that src/rc folds into the graph.
// The leader proposes it once; its id is derived from its content, so that a
// second proposal of the same declaration (a new leader, a retry) is
// acknowledged as a duplicate, and a changed config declares again.
import type { ClusterConfig } from "../config/index.js";
import { TopologyDeclared, type Event } from "../gen/halon/v1/events.js";
import { sha256Hex } from "../util/hash.js";

/**
 * Process ids: the process name, which must be unique in the graph; a name
 * used on several nodes becomes "<node>.<name>" on each of them.
 */
function processIds(config: ClusterConfig): Map<string, number> {
  const count = new Map<string, number>();
  for (const n of config.nodes) for (const p of n.processes) count.set(p.name, (count.get(p.name) ?? 0) + 1);
  return count;
}

export function declaredTopology(config: ClusterConfig): TopologyDeclared {
  const names = processIds(config);
  return TopologyDeclared.fromPartial({
    clusterName: config.cluster.name,
    hosts: config.nodes.map((n) => ({
      id: n.host,
      rackId: n.rack,
      enclosureId: n.enclosure,
      address: n.grpcAddress.slice(0, n.grpcAddress.lastIndexOf(":")),
      // No infrastructure endpoint in the config format yet: respawn-node commands have nowhere to go.
      infraEndpoint: "",
      nodeId: n.id,
      disks: n.disks.map((id) => ({ id, serial: "" })),
      processes: n.processes.map((p) => ({
        id: (names.get(p.name) ?? 0) > 1 ? `${n.id}.${p.name}` : p.name,
        command: [p.command, ...p.args].join(" "),
        serviceIds: p.services,
      })),
    })),
    pools: config.pools.map((p) => ({ id: p.id, diskIds: p.disks })),
  });
}

/** The event that declares the config's topology; its id is a hash of the declaration. */
export function topologyEvent(config: ClusterConfig): Event {
  const topology = declaredTopology(config);
  const digest = sha256Hex(TopologyDeclared.encode(topology).finish());
  return { id: `topology-${digest.slice(0, 24)}`, source: "leader", topologyDeclared: topology };
}

export { topologyPresent } from "../rc/leader/topology-check.js";
