export * from "./cluster-config-schema.js";
export * from "./load-cluster-config.js";
export * from "./raft-settings.js";
