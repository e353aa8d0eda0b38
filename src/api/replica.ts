// One coordinator replica as a running thing: LevelDB log, snapshot files, the
// Raft driver, the gRPC transport and server, wired from the cluster config.
// `halon rc` starts one; tests and the benchmark start them as processes.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import type { ClusterConfig } from "../config/index.js";
import { raftNodeConfigOf } from "../config/index.js";
import { ReplicaRole, type ReplicaStatus } from "../gen/halon/v1/client.js";
import type { Logger } from "../log/logger.js";
import { NotLeaderError, ProposalDroppedError } from "../raft/core/errors.js";
import { Role } from "../raft/core/ready.js";
import { RaftNode } from "../raft/driver/raft-node.js";
import { isNoSpaceError, type StateMachine } from "../raft/storage.js";
import { FileSnapshotStore } from "../raft/storage/file-snapshot-store.js";
import { LevelLogStore } from "../raft/storage/level-log-store.js";
import { GrpcTransport } from "../raft/transport/grpc-transport.js";
import { RaftGrpcTransport } from "../raft/transport/driver-transport.js";
import type { ReloadableCertificates } from "../raft/transport/reloadable-certificates.js";
import type { TlsSource } from "../raft/transport/tls.js";
import { authorizedHalonService } from "./client-authz.js";
import { GrpcError } from "./grpc-errors.js";
import { expectReplica, peerAuthenticator } from "./peer-authz.js";
import { loadSecurity } from "./security-setup.js";
import { createHalonService } from "./halon-service.js";
import { HashChainStateMachine } from "./hash-chain-state-machine.js";
import type { MembershipOp, MembershipResult, ProposeResult, ReplicaControl } from "./replica-control.js";
import type { ReplicaInstruments } from "./replica-instruments.js";
import { ReadBarrier } from "./read-barrier.js";
import { REPORTED_HASHES_FILE, ReportedHashes } from "./reported-hashes.js";
import { ReplicaServer } from "./replica-server.js";
import { RcRuntime } from "./rc-runtime.js";
import type { RcDutiesConfig } from "./rc-leader-duties.js";

export interface ReplicaOptions {
  config: ClusterConfig;
  id: string;
  logger: Logger;
  /** Re-reads the cluster config, to learn the address of a replica added after start. */
  reloadConfig?: () => ClusterConfig;
  /** Start without writing the founding membership: the replica waits for the leader to contact it. */
  join?: boolean;
  truncateCorruptTail?: boolean;
  /**
   * What the replica applies: the recovery coordinator ("rc", the default), the
   * hash-chain test machine (raw payloads: benchmarks and Raft end-to-end tests),
   * or any other state machine.
   */
  stateMachine?: "rc" | "hash-chain" | SummarisedStateMachine;
  /** Leader duties of the recovery coordinator (failure detector, dispatcher); defaults apply. */
  rcDuties?: Partial<RcDutiesConfig>;
  /** Plain TCP, on loopback addresses only (--insecure). */
  insecure?: boolean;
  /** Hooks that measure the replica's parts (the dashboard's metrics); none by default. */
  instruments?: ReplicaInstruments;
  /** Replicas compare their state hashes at every multiple of this index (default 10,000; 0: off). */
  stateCheckEvery?: number;
}

type SummarisedStateMachine = StateMachine & { summary?: () => { count: number; hash: string } | undefined };

export class Replica implements ReplicaControl {
  readonly id: string;
  private config: ClusterConfig;
  private readonly log: Logger;
  private node!: RaftNode;
  private server!: ReplicaServer;
  private transport!: RaftGrpcTransport;
  private logStore!: LevelLogStore;
  private snapshotStore!: FileSnapshotStore;
  private stateMachine!: SummarisedStateMachine;
  /** Set when the replica runs the recovery coordinator. */
  private rc: RcRuntime | null = null;
  private addressTimer: NodeJS.Timeout | null = null;
  /** The state hashes this replica reported, for `halon replay` to check against. */
  private reportedHashes: ReportedHashes | null = null;
  /** This replica's certificates (undefined with --insecure); reload() rotates them. */
  certificates: ReloadableCertificates | undefined;
  private stopping: Promise<void> | null = null;
  /** Linearizable reads: one ReadIndex round for all the reads waiting. */
  private readonly reads = new ReadBarrier(() => this.node.readIndex());

  private constructor(private readonly opts: ReplicaOptions) {
    this.id = opts.id;
    this.config = opts.config;
    this.log = opts.logger;
  }

  /** Opens the stores (refusing to start on corruption), starts Raft and the server. */
  static async start(opts: ReplicaOptions): Promise<Replica> {
    const replica = new Replica(opts);
    await replica.startParts();
    return replica;
  }

  get self() {
    const me = this.config.replicas.find((r) => r.id === this.id);
    if (!me) throw new Error(`replica "${this.id}" is not in the cluster config`);
    return me;
  }

  // ------------------------------------------------------------ ReplicaControl

  propose(payload: Uint8Array): Promise<ProposeResult> {
    return this.node.propose(payload);
  }

  async readBarrier(): Promise<void> {
    await this.reads.wait();
  }

  status(): ReplicaStatus {
    const s = this.node.status();
    const learner = s.membership.learners.includes(this.id);
    // A replica whose disk is full is frozen: whatever its core last was, it leads and campaigns no more.
    const role =
      s.diskFull && learner
        ? ReplicaRole.REPLICA_ROLE_LEARNER
        : s.diskFull
          ? ReplicaRole.REPLICA_ROLE_FOLLOWER
          : s.role === Role.Leader
            ? ReplicaRole.REPLICA_ROLE_LEADER
            : s.role === Role.Candidate || s.role === Role.PreCandidate
              ? ReplicaRole.REPLICA_ROLE_CANDIDATE
              : learner
                ? ReplicaRole.REPLICA_ROLE_LEARNER
                : ReplicaRole.REPLICA_ROLE_FOLLOWER;
    const summary = this.stateMachine.summary?.();
    if (summary && this.rc) this.reportedHashes?.note(summary.count, summary.hash);
    return {
      id: this.id,
      role,
      term: s.term,
      leaderId: (!s.diskFull && s.leader) || "",
      leaderAddress: (!s.diskFull && s.leader && this.addressOf(s.leader)) || "",
      commitIndex: s.commitIndex,
      appliedIndex: s.appliedIndex,
      lastLogIndex: s.lastIndex,
      address: this.self.grpcAddress,
      voters: [
        ...s.membership.voters,
        ...(s.membership.outgoing ?? []).filter((v) => !s.membership.voters.includes(v)),
      ],
      learners: s.membership.learners,
      snapshotIndex: s.snapshotIndex,
      stateHash: summary ? `${summary.count}:${summary.hash}` : "",
      ...this.alarms(s.diskFull),
    };
  }

  /** NOSPACE (the disk is full) and DIVERGED (the state differs from another replica's), with details. */
  private alarms(diskFull: { since: number; error: string } | null): {
    alarms: string[];
    alarmDetails: string[];
  } {
    const alarms: string[] = [];
    const alarmDetails: string[] = [];
    if (diskFull) {
      alarms.push("NOSPACE");
      alarmDetails.push(`disk full since ${new Date(diskFull.since).toISOString()}: ${diskFull.error}`);
    }
    const d = this.rc?.divergence;
    if (d) {
      alarms.push("DIVERGED");
      alarmDetails.push(
        `state hash at index ${d.index} differs from replica ${d.other}'s: ${d.mine} here, ${d.theirs} there`,
      );
    }
    return { alarms, alarmDetails };
  }

  async changeMembership(op: MembershipOp, id: string, force = false): Promise<MembershipResult> {
    if (!this.node.isLeader) throw new NotLeaderError(this.node.leader);
    // Only replicas the cluster knows how to reach join or vote.
    if (op !== "remove" && this.addressOf(id) === null) {
      this.refreshAddresses(true);
      if (this.addressOf(id) === null) {
        throw refused(
          `replica "${id}" is not in the cluster config; add it there (learner: true) and start it first`,
        );
      }
    }
    // Already so: answer as if done, so that a client's retry of a change that went through
    // (its answer lost in a failover) does not turn into an error.
    const now = this.node.status().membership;
    const settled =
      (op === "addLearner" && (now.learners.includes(id) || now.voters.includes(id))) ||
      (op === "promote" && now.voters.includes(id) && !(now.outgoing ?? []).includes(id)) ||
      (op === "remove" &&
        !now.voters.includes(id) &&
        !now.learners.includes(id) &&
        !(now.outgoing ?? []).includes(id));
    if (settled) return { voters: now.voters, learners: now.learners, index: this.node.status().commitIndex };
    this.log.info({ op, member: id, force }, "membership change requested");
    let membership;
    try {
      membership =
        op === "addLearner"
          ? await this.node.addLearner(id)
          : op === "promote"
            ? await this.node.addVoter(id, { force })
            : await this.node.removeServer(id, { force });
    } catch (err) {
      // The leader's checks said no: an answer, not an outage (the client must not try elsewhere).
      if (err instanceof ProposalDroppedError && this.node.status().diskFull === null)
        throw refused(`${op} ${id} refused: ${err.message.replace(/^proposal dropped: /, "")}`);
      throw err;
    }
    return {
      voters: membership.voters,
      learners: membership.learners,
      index: this.node.status().appliedIndex,
    };
  }

  async transferLeadership(target: string | null): Promise<{ leaderId: string; term: number }> {
    const leaderId = await this.node.transferLeadership(target ?? undefined);
    return { leaderId, term: this.node.status().term };
  }

  addressOf(id: string): string | null {
    return this.config.replicas.find((r) => r.id === id)?.grpcAddress ?? null;
  }

  /** The recovery coordinator this replica runs (null for the hash-chain machine): for the dashboard. */
  get coordinator(): RcRuntime | null {
    return this.rc;
  }

  /** The cluster config as this replica knows it now. */
  get clusterConfig(): ClusterConfig {
    return this.config;
  }

  // ------------------------------------------------------------ life cycle

  /**
   * Stops cleanly: hands leadership to another voter first (so the cluster
   * does not wait an election timeout), then stops Raft, the server and the stores.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopParts();
    return this.stopping;
  }

  private async stopParts(): Promise<void> {
    if (this.addressTimer) clearInterval(this.addressTimer);
    this.rc?.stop();
    if (this.node && this.node.isLeader && !this.node.isStopped) {
      try {
        const to = await this.node.transferLeadership();
        this.log.info({ to }, "handed leadership over before stopping");
      } catch (err) {
        this.log.warn({ err: String(err) }, "could not hand leadership over; stopping anyway");
      }
    }
    this.server?.setServing(false);
    this.node?.stop();
    await this.server?.stop();
    this.transport?.close();
    await this.logStore?.close();
    await this.snapshotStore?.close();
    this.certificates?.close();
    await this.reportedHashes?.flushed();
    this.log.info("replica stopped");
  }

  private async startParts(): Promise<void> {
    const me = this.self;
    this.certificates = loadSecurity(this.config, "replica", this.id, [me.grpcAddress, me.peerAddress], {
      insecure: this.opts.insecure ?? false,
      onReloadError: (message) => this.log.error({}, message),
      onReload: () => this.log.info({}, "certificates reloaded"),
    });
    const tls: TlsSource | undefined = this.certificates;
    const cluster = this.config.cluster.name;
    const warn = (message: string, details: Record<string, unknown>) => this.log.warn(details, message);
    const openStores = () => {
      this.logStore = new LevelLogStore({
        dir: join(me.dataDir, "log"),
        truncateCorruptTail: this.opts.truncateCorruptTail ?? false,
        onWarning: warn,
      });
      this.snapshotStore = new FileSnapshotStore({ dir: join(me.dataDir, "snapshots"), onWarning: warn });
    };
    const kind = this.opts.stateMachine ?? "rc";
    if (kind === "rc") {
      mkdirSync(me.dataDir, { recursive: true });
      this.reportedHashes = new ReportedHashes(join(me.dataDir, REPORTED_HASHES_FILE), (err) =>
        this.log.warn({ err: String(err) }, "could not record a reported state hash"),
      );
      this.rc = new RcRuntime({
        selfId: this.id,
        config: () => this.config,
        logger: this.log,
        duties: this.opts.rcDuties,
        tls,
        instruments: this.opts.instruments,
        stateCheckEvery: this.opts.stateCheckEvery,
      });
      this.stateMachine = this.rc.stateMachine;
    } else {
      this.stateMachine = kind === "hash-chain" ? new HashChainStateMachine() : kind;
    }
    this.transport = new RaftGrpcTransport({
      selfId: this.id,
      peers: this.peerAddresses(),
      tls,
      authenticate: peerAuthenticator({
        cluster,
        members: () => {
          if (!this.node) return [];
          const m = this.node.status().membership;
          return [...m.voters, ...m.learners, ...(m.outgoing ?? [])];
        },
        configured: () => this.config.replicas.map((r) => r.id),
      }),
      verifyPeerServer: tls ? (peerId) => expectReplica(cluster, peerId) : undefined,
      maxFrameBytes: Math.max(this.config.raft.maxBytesPerMessage * 2, 1 << 20),
      onBadMessage: (reason) => this.log.warn({ reason }, "dropped a malformed message from a peer"),
      // Messages queued on a broken stream are gone: the core must probe the
      // peer again instead of waiting on an inflight window that never drains.
      onUnreachable: (peer) => {
        if (this.node) this.node.reportUnreachable(peer, "the gRPC stream to the peer broke");
      },
      logger: {
        warn: (d, m) => this.log.warn(d, m),
        debug: (d, m) => this.log.debug(d, m),
      },
    });
    const founding = {
      voters: this.config.replicas.filter((r) => !r.learner).map((r) => r.id),
      learners: this.config.replicas.filter((r) => r.learner).map((r) => r.id),
    };
    const bootstrap = this.opts.join || me.learner ? undefined : founding;
    const inst = this.opts.instruments;
    const start = () =>
      RaftNode.start({
        id: this.id,
        logStore: inst?.logStore?.(this.logStore) ?? this.logStore,
        snapshotStore: inst?.snapshotStore?.(this.snapshotStore) ?? this.snapshotStore,
        stateMachine: inst?.stateMachine?.(this.stateMachine) ?? this.stateMachine,
        transport: this.transport,
        bootstrap,
        config: raftNodeConfigOf(this.config.raft),
        observer: {
          leaderChange: (leader, term) => {
            this.log.info({ leader, term }, "leader changed");
            inst?.leaderChanged?.(leader, term);
          },
          peerUnreachable: (peer, reason) => this.log.debug({ peer, reason }, "peer unreachable"),
          badMessage: (reason) => this.log.warn({ reason }, "dropped a bad message"),
          diskFull: (error, successor) =>
            this.log.error(
              { alarm: "NOSPACE", dataDir: me.dataDir, err: error.message, handedTo: successor },
              "disk full: alarm NOSPACE raised; acknowledging and voting nothing until space is freed (probing every second)",
            ),
          diskSpaceBack: (fullForMs) =>
            this.log.warn(
              { alarm: "NOSPACE", fullForMs },
              "disk space is back: alarm NOSPACE cleared; running again",
            ),
          snapshotFailed: (error) =>
            this.log.warn({ err: error.message }, "could not write a snapshot (no space); retrying later"),
          fatal: (error) => {
            this.log.fatal(
              { err: error.message, stack: error.stack },
              "raft stopped after an unrecoverable error",
            );
            void this.stop().finally(() => process.exit(70));
          },
        },
      });
    // Starting on a full disk (LevelDB writes a table of its write-ahead log when it opens, a
    // founding replica its first entry) is waited out like a full disk while running, not a crash.
    for (let attempt = 1; ; attempt++) {
      openStores();
      try {
        this.node = await start();
        break;
      } catch (err) {
        if (!isNoSpaceError(err)) throw err;
        await this.logStore.close().catch(() => undefined);
        if (attempt === 1)
          this.log.error(
            { alarm: "NOSPACE", dataDir: me.dataDir, err: (err as Error).message },
            "disk full at start: alarm NOSPACE raised; retrying every second until space is freed",
          );
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
    const rc = this.rc;
    this.server = new ReplicaServer({
      address: me.grpcAddress,
      peerAddress: me.peerAddress,
      tls,
      halon: ((service) => inst?.service?.(service) ?? service)(
        authorizedHalonService(createHalonService(this, undefined, rc), {
          cluster,
          ownerNode: (resource) => (rc ? ownerNode(rc.machine.graph, resource) : undefined),
        }),
      ),
      peer: this.transport.grpc.service,
      peerOptions: GrpcTransport.serverOptions(),
    });
    try {
      await this.server.start();
    } catch (err) {
      this.node.stop();
      this.transport.close();
      await this.logStore.close();
      throw err;
    }
    this.server.setServing(true);
    this.rc?.start(this.node);
    // A replica added after start (members add) is found by re-reading the config file.
    this.addressTimer = setInterval(() => this.refreshAddresses(false), 1_000);
    this.addressTimer.unref();
    const s = this.node.status();
    this.log.info(
      {
        address: me.grpcAddress,
        peerAddress: me.peerAddress,
        tls: tls ? "mutual TLS" : "plain TCP (--insecure)",
        dataDir: me.dataDir,
        term: s.term,
        lastIndex: s.lastIndex,
        storageId: s.storageId,
        bootstrap: !!bootstrap,
      },
      "replica started",
    );
  }

  private peerAddresses(): Record<string, string> {
    return Object.fromEntries(this.config.replicas.map((r) => [r.id, r.peerAddress]));
  }

  /** Re-reads the config when the membership names a replica without a known address (or when forced). */
  private refreshAddresses(force: boolean): void {
    if (!this.opts.reloadConfig) return;
    const m = this.node.status().membership;
    const members = [...m.voters, ...m.learners, ...(m.outgoing ?? [])];
    if (!force && members.every((id) => this.addressOf(id) !== null)) return;
    try {
      this.config = this.opts.reloadConfig();
      this.transport.setPeers(this.peerAddresses());
    } catch (err) {
      this.log.warn({ err: String(err) }, "could not re-read the cluster config");
    }
  }
}

/**
 * A membership change the leader refuses (ABORTED): clients show it at once
 * instead of retrying other replicas as they do for UNAVAILABLE and for
 * FAILED_PRECONDITION, which means "not the leader".
 */
function refused(message: string): GrpcError {
  return new GrpcError(status.ABORTED, message);
}

/** The node that runs a process, or whose host has a disk; undefined when the graph does not say. */
function ownerNode(graph: RcRuntime["machine"]["graph"], resource: string): string | undefined {
  const kind = graph.kindOf(resource);
  if (kind === "Process") return graph.neighbours(resource, "runs", "in")[0];
  if (kind === "Disk") {
    const host = graph.neighbours(resource, "has", "in").find((h) => graph.kindOf(h) === "Host");
    return host === undefined ? undefined : graph.neighbours(host, "runs", "out")[0];
  }
  return undefined;
}
