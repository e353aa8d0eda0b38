// The `halon` command. Each layer adds its subcommands through a register
// function in src/cli/commands/, so this file only assembles them.
import { Command } from "commander";
import { registerCertsCommand } from "./commands/certs-command.js";
import { registerClusterCommands } from "./commands/cluster-commands.js";
import { registerConfigCommands } from "./commands/config-commands.js";
import { registerHistoryCommands } from "./commands/history-commands.js";
import { registerNodeCommand } from "./commands/node-command.js";
import { registerRcCommands } from "./commands/rc-commands.js";
import { registerReplayCommand } from "./commands/replay-command.js";
import { registerReplicaCommand, type ReplicaTestHooks } from "./commands/replica-command.js";
import { registerUpCommand } from "./commands/up-command.js";
import { halonVersion } from "./version.js";

/**
 * The `halon` program. `testHooks` only from the test entry point
 * (testing-main.ts): the `halon` binary (main.ts) never passes them.
 */
export function buildProgram(testHooks?: ReplicaTestHooks): Command {
  const program = new Command("halon")
    .description("Halon: a high-availability recovery coordinator for clusters")
    .version(halonVersion(), "-V, --version", "print the Halon version")
    .showHelpAfterError("(run with --help for usage)");
  registerConfigCommands(program);
  registerCertsCommand(program);
  registerReplicaCommand(program, testHooks);
  registerClusterCommands(program);
  registerUpCommand(program);
  registerRcCommands(program);
  registerNodeCommand(program);
  registerHistoryCommands(program);
  registerReplayCommand(program);
  return program;
}
