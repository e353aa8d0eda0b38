// Operator commands against a running cluster: status, members, transfer-leader.
import type { ServiceError } from "@grpc/grpc-js";
import type { Command } from "commander";
import { ClusterClient } from "../../api/cluster-client.js";
import { readTls } from "../../api/replica.js";
import { ConfigError, loadClusterConfig, type ClusterConfig } from "../../config/index.js";
import { ReplicaRole, type ReplicaStatus } from "../../gen/halon/v1/client.js";

export function clientFor(file: string): { config: ClusterConfig; client: ClusterClient } {
  const config = loadClusterConfig(file);
  const client = new ClusterClient({
    addresses: config.replicas.map((r) => r.grpcAddress),
    tls: readTls(config),
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
      stateHash: s.stateHash || null,
    };
  });
}

function table(rows: StatusRow[]): string {
  const head = ["ID", "ADDRESS", "ROLE", "TERM", "COMMIT", "APPLIED", "LAG"];
  const body = rows.map((r) =>
    [r.id, r.address, r.role, r.term, r.commit, r.applied, r.lag].map((v) => (v === null ? "-" : String(v))),
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
  program
    .command("status")
    .description("show each replica's role, term, commit and applied index, and lag")
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .option("--json", "print JSON instead of a table")
    .action((opts: { config: string; json?: boolean }) =>
      run(async () => {
        const { config, client } = clientFor(opts.config);
        try {
          const rows = statusRows(config, await client.statusAll());
          if (opts.json)
            console.log(JSON.stringify({ cluster: config.cluster.name, replicas: rows }, null, 2));
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
    call: (c: ClusterClient, id: string) => Promise<{ voters: string[]; learners: string[]; index: number }>,
  ) =>
    members
      .command(name)
      .description(description)
      .argument("<id>", "a replica id from the cluster config")
      .requiredOption("--config <file>", "the cluster-config YAML file")
      .action((id: string, opts: { config: string }) =>
        run(async () => {
          const { client } = clientFor(opts.config);
          try {
            const res = await call(client, id);
            console.log(
              `voters: ${res.voters.join(", ") || "-"}; learners: ${res.learners.join(", ") || "-"} (at index ${res.index})`,
            );
          } finally {
            client.close();
          }
        }),
      );
  change("add", "add a replica as a learner (it must be in the config and running)", (c, id) =>
    c.addMember(id),
  );
  change("promote", "make a learner a voter", (c, id) => c.promoteMember(id));
  change("remove", "remove a replica from the cluster", (c, id) => c.removeMember(id));

  program
    .command("transfer-leader")
    .description("hand leadership to another voter")
    .requiredOption("--config <file>", "the cluster-config YAML file")
    .option("--to <id>", "the replica to lead (default: the most up-to-date voter)")
    .action((opts: { config: string; to?: string }) =>
      run(async () => {
        const { client } = clientFor(opts.config);
        try {
          const res = await client.transferLeadership(opts.to ?? null);
          console.log(`leader: ${res.leaderId} (term ${res.term})`);
        } finally {
          client.close();
        }
      }),
    );
}
