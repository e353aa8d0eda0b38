// What the dashboard page is sent: the whole picture at connect (and again
// after a snapshot install), then the graph's changes as they are applied and
// the replicas' status every second. Plain JSON, built from the replica's own
// applied state: a follower serves the same page, with its own lag.
import { historyEntry } from "../api/history-service.js";
import { wholeGraph } from "../api/graph-view.js";
import type { Replica } from "../api/replica.js";
import type { HistoryEntry, ReplicaStatus } from "../gen/halon/v1/client.js";
import { ReplicaRole } from "../gen/halon/v1/client.js";
import type { ReplicaRow, StatusMessage } from "./web/model.js";

export type { ReplicaRow, StatusMessage };

export const RECENT_ACTIVITY = 40;

const ROLE_NAMES: Record<number, string> = {
  [ReplicaRole.REPLICA_ROLE_FOLLOWER]: "follower",
  [ReplicaRole.REPLICA_ROLE_CANDIDATE]: "candidate",
  [ReplicaRole.REPLICA_ROLE_LEADER]: "leader",
  [ReplicaRole.REPLICA_ROLE_LEARNER]: "learner",
};

export function replicaRow(
  s: ReplicaStatus | undefined,
  address: string,
  id: string,
  error?: string,
): ReplicaRow {
  if (!s)
    return {
      id,
      address,
      reachable: false,
      role: "unreachable",
      term: null,
      commitIndex: null,
      appliedIndex: null,
      lag: null,
      stateHash: "",
      error,
    };
  return {
    id: s.id,
    address,
    reachable: true,
    role: ROLE_NAMES[s.role] ?? "unknown",
    term: s.term,
    commitIndex: s.commitIndex,
    appliedIndex: s.appliedIndex,
    lag: null,
    stateHash: s.stateHash,
  };
}

/** Fills in each row's lag against the highest commit index seen (the leader's, when it answered). */
export function withLag(rows: ReplicaRow[]): ReplicaRow[] {
  const commit = Math.max(0, ...rows.map((r) => r.commitIndex ?? 0));
  return rows.map((r) => ({
    ...r,
    lag: r.appliedIndex === null ? null : Math.max(0, commit - r.appliedIndex),
  }));
}

export function activity(replica: Replica): HistoryEntry[] {
  const rc = replica.coordinator;
  return rc ? rc.history.recent(RECENT_ACTIVITY).map((i) => historyEntry(i)) : [];
}

export function wholePicture(replica: Replica, status: StatusMessage) {
  const rc = replica.coordinator;
  return {
    cluster: replica.clusterConfig.cluster.name,
    index: rc?.machine.lastApplied ?? 0,
    graph: rc ? wholeGraph(rc.machine.graph) : { resources: [], edges: [] },
    status,
    activity: activity(replica),
    historyKeptFrom: rc?.history.keptFromIndex ?? 0,
  };
}
