// The Raft library's public surface.
export * from "./types.js";
export * from "./storage.js";
export * from "./core/config.js";
export * from "./core/errors.js";
export * from "./core/membership.js";
export * from "./core/messages.js";
export * from "./core/random.js";
export * from "./core/ready.js";
export type { ReadState } from "./core/read-only.js";
export { RaftCore } from "./core/raft.js";
export type { CoreInit } from "./core/raft.js";
export * from "./driver/interfaces.js";
export * from "./driver/node-config.js";
export * from "./driver/raft-node.js";
export { MemoryLogStore } from "./memory/memory-log-store.js";
export type { SyncScheduler } from "./memory/memory-log-store.js";
export { MemorySnapshotStore } from "./memory/memory-snapshot-store.js";
export { MemoryNetwork } from "./memory/memory-network.js";
