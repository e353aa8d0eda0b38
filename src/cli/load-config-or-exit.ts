// The long-running commands (rc, node, up) cannot do anything without a valid
// config: they print every problem and exit with the config exit code.
import { ConfigError, loadClusterConfig, type ClusterConfig } from "../config/index.js";

/** Exit code of every command for an invalid config, a bad flag or an unknown id. */
export const EXIT_CONFIG = 2;

export function loadConfigOrExit(file: string): ClusterConfig {
  try {
    return loadClusterConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(EXIT_CONFIG);
  }
}
