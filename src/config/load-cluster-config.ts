// Reads a cluster-config file and turns every way it can be wrong into one
// message that names the file, the field and what was expected.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import {
  clusterConfigSchema,
  type ClusterConfig,
  type InfraProviderConfig,
} from "./cluster-config-schema.js";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: invalid cluster config:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(top level)";
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : `${i === 0 ? "" : "."}${String(part)}`))
    .join("");
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = fieldPath(issue.path);
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? `${where}: expected ${issue.expected}, but it is missing`
        : `${where}: expected ${issue.expected}, but got ${JSON.stringify(issue.input)}`;
    case "unrecognized_keys":
      return `${where}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** Validates already-parsed data; `file` only names the source in errors. */
export function parseClusterConfig(data: unknown, file: string): ClusterConfig {
  const result = clusterConfigSchema.safeParse(data, { reportInput: true });
  if (!result.success) throw new ConfigError(file, result.error.issues.map(describeIssue));
  const base = dirname(resolve(file));
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const config = result.data;
  // Relative paths are relative to the config file, not to the working directory.
  return {
    ...config,
    replicas: config.replicas.map((r) => ({ ...r, dataDir: absolute(r.dataDir) })),
    nodes: config.nodes.map((n) => ({
      ...n,
      // A node service keeps its fencing state here unless the config says otherwise.
      dataDir: absolute(n.dataDir ?? `data/${config.cluster.name}/${n.id}`),
    })),
    security: { ...config.security, certsDir: absolute(config.security.certsDir) },
    infrastructure: {
      default: config.infrastructure.default && commandPath(config.infrastructure.default, absolute),
      hosts: Object.fromEntries(
        Object.entries(config.infrastructure.hosts).map(([h, p]) => [h, commandPath(p, absolute)]),
      ),
    },
  };
}

/** An exec provider's command given as a relative path ("./agents/ipmi") is relative to the config file too. */
function commandPath(p: InfraProviderConfig, absolute: (p: string) => string): InfraProviderConfig {
  return p.provider === "exec" && p.command.includes("/") ? { ...p, command: absolute(p.command) } : p;
}

export function loadClusterConfig(file: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [code === "ENOENT" ? "file not found" : `cannot read: ${String(err)}`]);
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `line ${pos.line}, column ${pos.col}: YAML syntax: ${e.message.split("\n")[0]}`;
      }),
    );
  }
  return parseClusterConfig(doc.toJS(), file);
}
