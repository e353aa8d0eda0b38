export { ReplicaMetrics, type MetricsSource } from "./metrics.js";
export { DashboardServer, DEFAULT_WEB_DIR, type DashboardOptions } from "./server.js";
