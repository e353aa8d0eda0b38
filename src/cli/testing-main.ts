#!/usr/bin/env node
// Not the `halon` binary (package.json's bin is main.ts): the same program plus
// the hooks that only tests and benchmarks may use, such as `halon rc
// --state-machine hash-chain`. Nothing in a cluster config file, an
// environment variable or a flag of the `halon` binary turns them on.
import { buildProgram } from "./program.js";

await buildProgram({ stateMachineOption: true }).parseAsync(process.argv);
