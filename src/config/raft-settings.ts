// The cluster config file's `raft` section, as the Raft driver's settings.
// Fields the file does not carry keep the driver's defaults (NODE_DEFAULTS).
import type { RaftNodeConfig } from "../raft/driver/node-config.js";
import type { RaftSettings } from "./cluster-config-schema.js";

export function raftNodeConfigOf(raft: RaftSettings): Partial<RaftNodeConfig> {
  return {
    heartbeatIntervalMs: raft.heartbeatMs,
    electionTimeoutMs: raft.electionTimeoutMs,
    maxBytesPerMessage: raft.maxBytesPerMessage,
    maxEntriesPerMessage: raft.maxEntriesPerMessage,
    maxInflightMessages: raft.maxInflightMessages,
    snapshotThreshold: raft.snapshotThreshold,
    trailingEntries: raft.trailingEntries,
  };
}
