// One node service: serves NodeService (the coordinator's commands) on the
// node's grpcAddress from the cluster config, supervises the node's configured
// processes, and reports to the coordinator: NodeJoined at start, a heartbeat
// every heartbeatMs, process starts, local restarts and failures.
//
// It obeys only the coordinator's replicas (by their certificates), and only
// in the newest term it knows: the highest term seen, in a delivery or in the
// answer to its own events, is kept on disk (term-store.ts), and a delivery
// from an older term is refused. So a deposed leader cannot command it.
import { join } from "node:path";
import { Server, status, type ServerCredentials, type ServerErrorResponse } from "@grpc/grpc-js";
import type { ClusterConfig, NodeServiceConfig } from "../config/index.js";
import { NodeServiceService, type NodeServiceServer } from "../gen/halon/v1/node.js";
import type { Logger } from "../log/logger.js";
import { toServiceError } from "../api/grpc-errors.js";
import { guardHandlers, guardService } from "../api/request-guard.js";
import { callerOf, describe } from "../api/identity.js";
import { CommandExecutor } from "./command-executor.js";
import { fenceDelivery } from "./delivery-fence.js";
import { TermStore } from "./term-store.js";
import { NodeStateStore } from "./node-state-store.js";
import { ChildRegistry } from "./child-registry.js";
import { RunLock } from "./run-lock.js";
import { EventReporter, type EventSink } from "./event-reporter.js";
import { ProcessSupervisor, type ProcessSpec } from "./process-supervisor.js";
import { DEFAULT_RESTART_POLICY, type RestartPolicyConfig } from "./local-rules.js";
import { LocalDiagnosis } from "./local-diagnosis.js";
import { DiskProber } from "./disk-probe.js";
import { SessionKeeper, type SessionSink } from "./session-keeper.js";

export interface NodeServiceOptions {
  config: ClusterConfig;
  nodeId: string;
  /** Where events and session renewals go: a ClusterClient on the config's replicas. */
  sink: EventSink & SessionSink;
  credentials: ServerCredentials;
  logger: Logger;
  heartbeatMs?: number;
  restartPolicy?: RestartPolicyConfig;
  /** Tells this run's event ids from a former run's; unique per start by default. */
  incarnation?: string;
}

export const DEFAULT_HEARTBEAT_MS = 3_000;

/** The node is not in the config, or its address cannot be served. */
export class NodeStartError extends Error {
  override name = "NodeStartError";
}

/**
 * Process ids as the coordinator's topology declares them: the process name,
 * or "<node>.<name>" when several nodes use the same name.
 */
export function processSpecs(config: ClusterConfig, node: NodeServiceConfig): ProcessSpec[] {
  const uses = new Map<string, number>();
  for (const n of config.nodes) for (const p of n.processes) uses.set(p.name, (uses.get(p.name) ?? 0) + 1);
  return node.processes.map((p) => ({
    id: (uses.get(p.name) ?? 0) > 1 ? `${node.id}.${p.name}` : p.name,
    command: p.command,
    args: p.args,
  }));
}

/** Where the node service keeps its state: `nodes[].dataDir`, or data/<cluster>/<node>. */
export function nodeDataDir(config: ClusterConfig, node: NodeServiceConfig): string {
  return node.dataDir ?? `data/${config.cluster.name}/${node.id}`;
}

export class NodeService {
  // One call at a time per connection is what the leader uses; a few more leave room.
  private readonly server = new Server({
    "grpc.max_receive_message_length": 1024 * 1024,
    "grpc.max_concurrent_streams": 16,
  });
  /** The session with the leader (liveness off the log). */
  session: SessionKeeper | null = null;
  /** The disk prober, when the config names a probe and the node has disks. */
  prober: DiskProber | null = null;
  private lock: RunLock | null = null;
  private stopping: Promise<void> | null = null;
  port = 0;

  private constructor(
    readonly node: NodeServiceConfig,
    readonly supervisor: ProcessSupervisor,
    readonly executor: CommandExecutor,
    readonly reporter: EventReporter,
    private readonly logger: Logger,
    readonly terms: TermStore,
    private readonly config: ClusterConfig,
  ) {}

  static async start(opts: NodeServiceOptions): Promise<NodeService> {
    const node = opts.config.nodes.find((n) => n.id === opts.nodeId);
    if (!node)
      throw new NodeStartError(
        `no node with id "${opts.nodeId}" in the config (ids: ${opts.config.nodes.map((n) => n.id).join(", ") || "none"})`,
      );
    const logger = opts.logger;
    const dataDir = nodeDataDir(opts.config, node);
    const terms = TermStore.open(dataDir);
    // Before the sweep: a second node service for the same node must not take the first one's children for orphans.
    const lock = RunLock.acquire(dataDir);
    const state = NodeStateStore.open(dataDir);
    const registry = new ChildRegistry(dataDir, logger);
    // Before anything starts: the children a killed former run left behind are stopped.
    const orphans = await registry.sweep();
    const incarnation = state.beginIncarnation();
    // The counter orders the runs; the start time keeps ids unique even if the state file was lost.
    const runId = opts.incarnation ?? `${incarnation}-${Date.now().toString(36)}`;
    const reporter = new EventReporter({
      nodeId: node.id,
      incarnation: runId,
      // The leader's answers name its term: the node learns of a new leader even before its first command.
      sink: {
        submitEvents: (events) =>
          opts.sink.submitEvents(events).then((res) => {
            if (res.term > 0 && terms.advance(res.term))
              logger.info({ term: res.term }, "newer coordinator term seen");
            return res;
          }),
      },
      logger,
    });
    const diagnosis = LocalDiagnosis.open({
      file: join(dataDir, "diagnosis.json"),
      policy: opts.restartPolicy ?? DEFAULT_RESTART_POLICY,
      disk: node.diskProbe,
      logger,
    });
    const supervisor = new ProcessSupervisor(
      processSpecs(opts.config, node),
      diagnosis,
      {
        started: (processId, instance) =>
          reporter.report("started", { processStarted: { processId, instance } }),
        restartedLocally: (processId, instance, reason) =>
          reporter.report("local-restart", { processLocalRestart: { processId, instance, reason } }),
        failed: (processId, instance, reason) =>
          reporter.report("failed", { processFailed: { processId, instance, reason } }),
      },
      logger,
      registry,
    );
    const executor = new CommandExecutor(node.id, supervisor, state, logger, (epoch) =>
      logger.info({ epoch }, "new cluster epoch"),
    );
    const service = new NodeService(node, supervisor, executor, reporter, logger, terms, opts.config);
    service.lock = lock;
    try {
      await service.listen(opts.credentials);
    } catch (err) {
      lock.release();
      throw err;
    }
    reporter.report("joined", {
      nodeJoined: { nodeId: node.id, hostId: node.host, address: node.grpcAddress, epoch: executor.epoch },
    });
    if (node.diskProbe && node.disks.length > 0) {
      // The disk-health rule's decisions, reported for the record; the coordinator acts on them.
      service.prober = new DiskProber(
        node.diskProbe,
        node.disks,
        diagnosis,
        (a) => {
          if (a.action === "disk-failed") {
            logger.error(
              { disk: a.disk, errors: a.errors, detail: a.detail },
              "disk failed (local diagnosis)",
            );
            reporter.report("disk-failed", { diskFailed: { diskId: a.disk } });
          } else if (a.action === "disk-replaced") {
            logger.info({ disk: a.disk, serial: a.serial }, "disk replaced (local diagnosis)");
            reporter.report("disk-replaced", { diskReplaced: { diskId: a.disk, serial: a.serial } });
          }
        },
        logger,
      );
      service.prober.start();
    }
    const heartbeatMs = opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    service.session = new SessionKeeper({
      nodeId: node.id,
      incarnation: runId,
      intervalMs: heartbeatMs,
      sink: opts.sink,
      epoch: () => executor.epoch,
      onTerm: (term) => {
        try {
          if (terms.advance(term)) logger.info({ term }, "newer coordinator term seen");
        } catch (err) {
          logger.error({ term, err: String(err) }, "cannot record the term");
        }
      },
      heartbeatEvent: () => reporter.heartbeat(executor.epoch),
      logger,
    });
    service.session.start();
    logger.info(
      {
        node: node.id,
        address: node.grpcAddress,
        processes: supervisor.ids(),
        heartbeatMs,
        highestTerm: terms.highestTerm,
        epoch: state.epoch,
        incarnation,
        formerChildrenStopped: orphans.filter((o) => o.action === "stopped").length,
      },
      "node service started",
    );
    return service;
  }

  /** Stops serving, stops every child process, stops reporting. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.session?.stop();
      this.prober?.stop();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => this.server.forceShutdown(), 2_000);
        this.server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await this.supervisor.stopAll();
      this.reporter.stop();
      this.lock?.release();
      this.logger.info({ node: this.node.id }, "node service stopped");
    })();
    return this.stopping;
  }

  private async listen(credentials: ServerCredentials): Promise<void> {
    const impl: NodeServiceServer = {
      executeCommand: (call, callback) => {
        const { command, target, leaderId, term } = call.request;
        const refuse = (code: status, details: string) => {
          const err: ServerErrorResponse = { name: "NodeServiceError", message: details, code, details };
          callback(err);
        };
        let caller;
        try {
          caller = callerOf(call, this.config.cluster.name);
        } catch (err) {
          callback(toServiceError(err) as ServerErrorResponse);
          return;
        }
        if (caller !== "insecure") {
          if (caller.role !== "replica" || !this.config.replicas.some((r) => r.id === caller.name))
            return refuse(
              status.PERMISSION_DENIED,
              `${describe(caller)} may not command node service ${this.node.id}: only the coordinator's replicas may`,
            );
          if (leaderId !== caller.name)
            return refuse(
              status.PERMISSION_DENIED,
              `the delivery names leader "${leaderId}" but comes from replica "${caller.name}"`,
            );
        }
        if (this.stopping) return refuse(status.UNAVAILABLE, `node service ${this.node.id} is stopping`);
        if (!command) return refuse(status.INVALID_ARGUMENT, "command is missing");
        if (command.id === "") return refuse(status.INVALID_ARGUMENT, "command.id is missing");
        if (target !== this.node.id)
          return refuse(
            status.INVALID_ARGUMENT,
            `the delivery is for "${target}", this is node service ${this.node.id}`,
          );
        const highest = this.terms.highestTerm;
        const refusal = fenceDelivery(command, term, leaderId, highest);
        if (refusal?.kind === "invalid") return refuse(status.INVALID_ARGUMENT, refusal.detail);
        if (refusal) {
          this.logger.warn(
            { command: command.id, leaderId, term, highestTerm: highest },
            "refused a command from an older term",
          );
          return refuse(status.FAILED_PRECONDITION, refusal.detail);
        }
        try {
          if (this.terms.advance(term)) this.logger.info({ term, leaderId }, "newer coordinator term seen");
        } catch (err) {
          // Not durable, not obeyed: a restart must not forget a term it acted on.
          return refuse(status.UNAVAILABLE, `cannot record term ${term}: ${String(err)}`);
        }
        this.logger.info({ command: command.id, leaderId, term }, "command delivered");
        void this.executor.execute(command).then((answer) => callback(null, answer));
      },
    };
    // Requests that do not decode get INVALID_ARGUMENT naming the field, never INTERNAL.
    this.server.addService(guardService(NodeServiceService), guardHandlers(NodeServiceService, impl));
    // Bound here; the coordinator dials grpcAddress, which may lead here through a proxy or NAT.
    const address = this.node.listenAddress ?? this.node.grpcAddress;
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (err, port) =>
        err ? reject(new NodeStartError(`cannot listen on ${address}: ${err.message}`)) : resolve(port),
      ),
    );
  }
}
