export * from "./create-infra-provider.js";
export * from "./infra-server.js";
export { FencedOnce, FencedError } from "./fenced-once.js";
