// Operator commands against a running cluster: status, members, transfer-leader.
import type { ServiceError } from "@grpc/grpc-js";
import type { Command } from "commander";
import { ClusterClient } from "../../api/cluster-client.js";
import { SecuritySetupError } from "../../api/security-setup.js";
import { ConfigError, loadClusterConfig, type ClusterConfig } from "../../config/index.js";
import { ReplicaRole, type ReplicaStatus } from "../../gen/halon/v1/client.js";
import { clientTls, withClientSecurity, type ClientSecurityOptions } from "../security-options.js";

/** The --stale option of the read commands. */
export const STALE_HELP =
  "answer from the replica asked, at once, without confirming with the leader (may be behind: the answer says its index)";

/** A client of the cluster of `opts.config`, presenting the identity the options name. */
export function clientFor(opts: { config: string } & ClientSecurityOptions): {
  config: ClusterConfig;
  client: ClusterClient;
} {
  const config = loadClusterConfig(opts.config);
  const client = new ClusterClient({
    addresses: config.replicas.map((r) => r.grpcAddress),
    tls: clientTls(config, opts),
  });
  return { config, client };
}

/** Runs a command body, printing config and gRPC errors as one line and setting the exit code. */
export async function run(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exitCode = 2;
      return;
    }
    if (err instanceof SecuritySetupError) {
      console.error(`error: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    const e = err as ServiceError;
    console.error(`error: ${e.details || e.message}`);
    process.exitCode = 1;
  }
}

const ROLE_NAMES: Record<number, string> = {
  [ReplicaRole.REPLICA_ROLE_FOLLOWER]: "follower",
  [ReplicaRole.REPLICA_ROLE_CANDIDATE]: "candidate",
  [ReplicaRole.REPLICA_ROLE_LEADER]: "leader",
  [ReplicaRole.REPLICA_ROLE_LEARNER]: "learner",
};

interface StatusRow {
  id: string;
  address: string;
  reachable: boolean;
  role: string;
  term: number | null;
  commit: number | null;
  applied: number | null;
  lastIndex: number | null;
  /** How far this replica's applied index is behind the leader's commit index. */
  lag: number | null;
  leader: string | null;
  /** Conditions an operator must act on (NOSPACE: the disk is full), with why. */
  alarms: string[];
  alarmDetails: string[];
  /** "appliedIndex:sha256" of the state machine there: equal on replicas at the same index. */
  stateHash: string | null;
  error?: string;
}

export function statusRows(
  config: ClusterConfig,
  answers: { address: string; status?: ReplicaStatus; error?: string }[],
): StatusRow[] {
  const leader = answers
    .map((a) => a.status)
    .filter((s): s is ReplicaStatus => s?.role === ReplicaRole.REPLICA_ROLE_LEADER)
    .sort((a, b) => b.term - a.term)[0];
  return answers.map((a, i) => {
    const s = a.status;
    const id = s?.id ?? config.replicas[i]!.id;
    if (!s) {
      return {
        id,
        address: a.address,
        reachable: false,
        role: "unreachable",
        term: null,
        commit: null,
        applied: null,
        lastIndex: null,
        lag: null,
        leader: null,
        alarms: [],
        alarmDetails: [],
        stateHash: null,
        error: a.error,
      };
    }
    return {
      id,
      address: a.address,
      reachable: true,
      role: ROLE_NAMES[s.role] ?? "unknown",
      term: s.term,
      commit: s.commitIndex,
      applied: s.appliedIndex,
      lastIndex: s.lastLogIndex,
      lag: leader ? Math.max(0, leader.commitIndex - s.appliedIndex) : null,
      leader: s.leaderId || null,
      alarms: s.alarms,
      alarmDetails: s.alarmDetails,
      stateHash: s.stateHash || null,
    };
  });
}

function table(rows: StatusRow[]): string {
  const head = ["ID", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG", "ALARMS"];
  const body = rows.map((r) =>
    [r.id, r.address, r.role, r.term, r.commit, r.applied, r.lag, r.alarms.join(",") || null].map((v) =>
      v === null ? "-" : String(v),
    ),
  );
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body]
    .map((cols) =>
      cols
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function registerClusterCommands(program: Command): void {
  withClientSecurity(
    program
      .command("status")
      .description("show each replica's role, term, commit and applied index, and lag")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--json", "print JSON instead of a table"),
  ).action((opts: { config: string; json?: boolean } & ClientSecurityOptions) =>
    run(async () => {
      const { config, client } = clientFor(opts);
      try {
        const rows = statusRows(config, await client.statusAll());
        if (opts.json) console.log(JSON.stringify({ cluster: config.cluster.name, replicas: rows }, null, 2));
        else console.log(table(rows));
        if (rows.every((r) => !r.reachable)) process.exitCode = 1;
      } finally {
        client.close();
      }
    }),
  );

  const members = program.command("members").description("change the cluster's membership (on the leader)");
  const change = (
    name: string,
    description: string,
    call: (
      c: ClusterClient,
      id: string,
      force: boolean,
    ) => Promise<{ voters: string[]; learners: string[]; index: number }>,
    forceHelp?: string,
  ) => {
    const cmd = withClientSecurity(
      members
        .command(name)
        .description(description)
        .argument("<id>", "a replica id from the cluster config")
        .requiredOption("--config <file>", "the cluster-config YAML file"),
    );
    if (forceHelp !== undefined) cmd.option("--force", forceHelp);
    return cmd.action((id: string, opts: { config: string; force?: boolean } & ClientSecurityOptions) =>
      run(async () => {
        const { client } = clientFor(opts);
        try {
          const res = await call(client, id, opts.force === true);
          console.log(
            `voters: ${res.voters.join(", ") || "-"}; learners: ${res.learners.join(", ") || "-"} (at index ${res.index})`,
          );
        } finally {
          client.close();
        }
      }),
    );
  };
  change("add", "add a replica as a learner (it must be in the config and running)", (c, id) =>
    c.addMember(id),
  );
  change(
    "promote",
    "make a learner a voter, once it has caught up",
    (c, id, force) => c.promoteMember(id, force),
    "promote even a learner that has not caught up, or when no live quorum would remain",
  );
  change(
    "remove",
    "remove a replica from the cluster",
    (c, id, force) => c.removeMember(id, force),
    "remove even when the voters left would have no live quorum",
  );

  withClientSecurity(
    program
      .command("transfer-leader")
      .description("hand leadership to another voter")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .option("--to <id>", "the replica to lead (default: the most up-to-date voter)"),
  ).action((opts: { config: string; to?: string } & ClientSecurityOptions) =>
    run(async () => {
      const { client } = clientFor(opts);
      try {
        const res = await client.transferLeadership(opts.to ?? null);
        console.log(`leader: ${res.leaderId} (term ${res.term})`);
      } finally {
        client.close();
      }
    }),
  );
}
