// The cluster-config file format: one YAML file describes the coordinator
// replicas, the node services and the declared topology of a cluster.
// cluster-configs/README.md explains every field; keep the two in step.
import { z } from "zod";
import { NODE_DEFAULTS } from "../raft/driver/node-config.js";

const idPattern = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const id = z
  .string()
  .regex(idPattern, "an id of lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");

/** host:port, where host is a name, an IPv4 address or a bracketed IPv6 address. */
const address = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, "an address of the form host:port")
  .refine((value) => {
    if (!/:\d{1,5}$/.test(value)) return true; // the pattern above already reported it
    const port = Number(value.slice(value.lastIndexOf(":") + 1));
    return port >= 1 && port <= 65535;
  }, "a port from 1 to 65535");

const positiveMs = z.number().int().positive();

/**
 * Where every party's certificate lives. `halon certs` fills the directory;
 * each process reads its own files from it (docs/security.md).
 */
export const securitySchema = z
  .object({
    certsDir: z.string().min(1).default("certs"),
    /** How often the certificate files are checked for a change (they are also re-read on SIGHUP). */
    reloadCheckMs: positiveMs.default(5_000),
  })
  .strict();

export const raftSettingsSchema = z
  .object({
    // The defaults are the Raft library's (one table, NODE_DEFAULTS).
    heartbeatMs: positiveMs.default(NODE_DEFAULTS.heartbeatIntervalMs),
    electionTimeoutMs: positiveMs.default(NODE_DEFAULTS.electionTimeoutMs),
    maxEntriesPerMessage: z.number().int().positive().default(NODE_DEFAULTS.maxEntriesPerMessage),
    maxBytesPerMessage: z.number().int().positive().default(NODE_DEFAULTS.maxBytesPerMessage),
    maxInflightMessages: z.number().int().positive().default(NODE_DEFAULTS.maxInflightMessages),
    snapshotThreshold: z.number().int().positive().default(NODE_DEFAULTS.snapshotThreshold),
    trailingEntries: z.number().int().nonnegative().default(NODE_DEFAULTS.trailingEntries),
  })
  .strict()
  .refine((r) => r.electionTimeoutMs >= 2 * r.heartbeatMs, {
    message: "electionTimeoutMs must be at least twice heartbeatMs",
    path: ["electionTimeoutMs"],
  });

const backoffSchema = z
  .object({
    baseMs: positiveMs,
    factor: z.number().min(1),
    maxMs: positiveMs,
  })
  .strict()
  .refine((b) => b.maxMs >= b.baseMs, { message: "maxMs must be at least baseMs", path: ["maxMs"] });

/**
 * The recovery coordinator's tunables. Every field is optional: the rc layer
 * fills in its defaults. They define the replicated state, so every replica
 * must read the same values (they come from this one file).
 */
export const recoverySettingsSchema = z
  .object({
    processRespawnBudget: z.number().int().nonnegative(),
    processRespawnBackoff: backoffSchema,
    processRespawnTimeoutMs: positiveMs,
    nodeRespawnBudget: z.number().int().nonnegative(),
    nodeRespawnBackoff: backoffSchema,
    dedupRetentionMs: positiveMs,
    dedupMaxIds: z.number().int().positive(),
    unknownEventsKept: z.number().int().nonnegative(),
    maxTimeStepMs: positiveMs,
  })
  .partial()
  .strict();

/**
 * Node liveness (docs/node.md, "Liveness"): node services renew a session with
 * the leader every heartbeatMs; the leader's failure detector declares a node
 * silent after silentAfterMs without one, and suspects nobody for
 * graceAfterElectionMs after it is elected (nodes find the new leader).
 */
export const livenessSchema = z
  .object({
    heartbeatMs: positiveMs.default(3_000),
    silentAfterMs: positiveMs.default(15_000),
    graceAfterElectionMs: positiveMs.default(6_000),
  })
  .strict()
  .refine((l) => l.silentAfterMs >= 3 * l.heartbeatMs, {
    message:
      "silentAfterMs must be at least 3 × heartbeatMs: one or two lost renewals must not make a node silent",
    path: ["silentAfterMs"],
  })
  .refine((l) => l.graceAfterElectionMs >= 2 * l.heartbeatMs, {
    message:
      "graceAfterElectionMs must be at least 2 × heartbeatMs: every node renews with a new leader before it suspects any",
    path: ["graceAfterElectionMs"],
  });

export const replicaSchema = z
  .object({
    id,
    /** The client API: CLI, node services, operators. */
    grpcAddress: address,
    /** The Raft peer service: only the other replicas connect here. */
    peerAddress: address,
    dashboardAddress: address.optional(),
    dataDir: z.string().min(1),
    /** A learner replicates the log but does not vote until promoted. */
    learner: z.boolean().default(false),
  })
  .strict();

export const processSchema = z
  .object({
    name: id,
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    services: z.array(id).default([]),
  })
  .strict();

/**
 * How the node service checks its disks (docs/node.md, "Local diagnosis"): a
 * command run per disk, or a file read per disk; `errors` failed probes within
 * `withinMs` mark the disk failed.
 */
export const diskProbeSchema = z
  .object({
    /** Run with `args` ({disk} filled in); exit 0 is healthy, stdout "replaced <serial>" or "repaired" a replacement. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default(["{disk}"]),
    /** A file per disk ({disk} filled in) whose first word is ok, error, replaced <serial> or repaired. */
    file: z.string().min(1).optional(),
    intervalMs: positiveMs.default(10_000),
    timeoutMs: positiveMs.default(10_000),
    errors: z.number().int().positive().default(3),
    withinMs: positiveMs.default(60_000),
  })
  .strict()
  .refine((p) => (p.command === undefined) !== (p.file === undefined), {
    message: "a disk probe has exactly one of command or file",
  });

export const nodeServiceSchema = z
  .object({
    id,
    host: id,
    grpcAddress: address,
    /**
     * The address the node service binds, when the coordinator reaches it at
     * grpcAddress through something in between (a proxy, NAT, a container's
     * port mapping). Default: grpcAddress.
     */
    listenAddress: address.optional(),
    /** Where the node service keeps the highest coordinator term it has seen (fencing). */
    dataDir: z.string().min(1).optional(),
    rack: id.default("rack-0"),
    enclosure: id.default("enclosure-0"),
    disks: z.array(id).default([]),
    processes: z.array(processSchema).default([]),
    diskProbe: diskProbeSchema.optional(),
  })
  .strict();

/**
 * How a host's node service is brought back when the coordinator decides to
 * respawn it (docs/node.md, "Node respawn"): a command run like a fence agent,
 * or a server of halon.v1.InfraService.
 */
export const infraProviderSchema = z.discriminatedUnion("provider", [
  z
    .object({
      provider: z.literal("exec"),
      command: z.string().min(1),
      /** {node}, {host}, {cluster}, {term}, {leader}, {command}, {index}, {attempt} are filled in. */
      args: z.array(z.string()).default([]),
      timeoutMs: positiveMs.default(60_000),
    })
    .strict(),
  z
    .object({
      provider: z.literal("grpc"),
      address,
      /** The name in its certificate, spiffe://<cluster>/infra/<name> (`halon certs` makes it). */
      name: id.default("infra"),
      timeoutMs: positiveMs.default(60_000),
    })
    .strict(),
]);

export const infrastructureSchema = z
  .object({
    /** For every host without its own entry. */
    default: infraProviderSchema.optional(),
    /** By host id (nodes[].host). */
    hosts: z.record(id, infraProviderSchema).default({}),
  })
  .strict();

export const poolSchema = z
  .object({
    id,
    disks: z.array(id).min(1),
  })
  .strict();

export const clusterConfigSchema = z
  .object({
    cluster: z.object({ name: id }).strict(),
    raft: raftSettingsSchema.default(raftSettingsSchema.parse({})),
    recovery: recoverySettingsSchema.default({}),
    security: securitySchema.default(securitySchema.parse({})),
    liveness: livenessSchema.default(livenessSchema.parse({})),
    replicas: z.array(replicaSchema).min(1).max(7),
    nodes: z.array(nodeServiceSchema).default([]),
    pools: z.array(poolSchema).default([]),
    infrastructure: infrastructureSchema.default({ hosts: {} }),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Map<string, string>();
    const claim = (value: string, what: string, path: (string | number)[]) => {
      const earlier = seen.get(value);
      if (earlier !== undefined) {
        ctx.addIssue({ code: "custom", path, message: `${what} "${value}" is already used by ${earlier}` });
      } else {
        seen.set(value, `${path[0]}[${path[1]}].${path[2]}`);
      }
    };
    config.replicas.forEach((r, i) => claim(r.id, "id", ["replicas", i, "id"]));
    config.nodes.forEach((n, i) => claim(n.id, "id", ["nodes", i, "id"]));
    seen.clear();
    config.replicas.forEach((r, i) => {
      claim(r.grpcAddress, "address", ["replicas", i, "grpcAddress"]);
      claim(r.peerAddress, "address", ["replicas", i, "peerAddress"]);
      if (r.dashboardAddress) claim(r.dashboardAddress, "address", ["replicas", i, "dashboardAddress"]);
    });
    config.nodes.forEach((n, i) => {
      claim(n.grpcAddress, "address", ["nodes", i, "grpcAddress"]);
      if (n.listenAddress && n.listenAddress !== n.grpcAddress)
        claim(n.listenAddress, "address", ["nodes", i, "listenAddress"]);
    });
    seen.clear();
    config.replicas.forEach((r, i) => claim(r.dataDir, "dataDir", ["replicas", i, "dataDir"]));

    const hosts = new Set(config.nodes.map((n) => n.host));
    for (const host of Object.keys(config.infrastructure.hosts))
      if (!hosts.has(host))
        ctx.addIssue({
          code: "custom",
          path: ["infrastructure", "hosts", host],
          message: `no node runs on host "${host}" (hosts: ${[...hosts].join(", ") || "none"})`,
        });

    const voters = config.replicas.filter((r) => !r.learner).length;
    if (voters === 0) {
      ctx.addIssue({ code: "custom", path: ["replicas"], message: "at least one replica must be a voter" });
    }
    const diskOwner = new Map<string, string>();
    config.nodes.forEach((n) =>
      n.disks.forEach((d, j) => {
        if (diskOwner.has(d)) {
          ctx.addIssue({
            code: "custom",
            path: ["nodes", config.nodes.indexOf(n), "disks", j],
            message: `disk "${d}" is already attached to node "${diskOwner.get(d)}"`,
          });
        }
        diskOwner.set(d, n.id);
      }),
    );
    config.pools.forEach((p, i) =>
      p.disks.forEach((d, j) => {
        if (!diskOwner.has(d)) {
          ctx.addIssue({
            code: "custom",
            path: ["pools", i, "disks", j],
            message: `disk "${d}" is not attached to any node`,
          });
        }
      }),
    );
  });

export type ClusterConfig = z.infer<typeof clusterConfigSchema>;
export type ReplicaConfig = z.infer<typeof replicaSchema>;
export type NodeServiceConfig = z.infer<typeof nodeServiceSchema>;
export type RaftSettings = z.infer<typeof raftSettingsSchema>;
export type RecoverySettings = z.infer<typeof recoverySettingsSchema>;
export type DiskProbeConfig = z.infer<typeof diskProbeSchema>;
export type InfraProviderConfig = z.infer<typeof infraProviderSchema>;
export type LivenessConfig = z.infer<typeof livenessSchema>;
export type SecurityConfig = z.infer<typeof securitySchema>;
