#!/usr/bin/env node
import "./ip-sni-warning.js";
import { buildProgram } from "./program.js";

await buildProgram().parseAsync(process.argv);
