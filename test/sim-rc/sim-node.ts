// A node service in the coordinator simulator: the real command execution of
// src/node (CommandExecutor: idempotence by command id and issuing entry,
// epoch tracking; fenceDelivery: the term check of node-service.ts) over an
// in-memory process supervisor, and a reporter that sends the node's events
// (join, heartbeats, process starts and failures) to the coordinator on
// virtual time, again with the same ids until they are acknowledged.
import type { Command, Event } from "../../src/gen/halon/v1/events.js";
import type { ExecuteCommandResponse } from "../../src/gen/halon/v1/node.js";
import { createLogger } from "../../src/log/logger.js";
import { CommandExecutor } from "../../src/node/command-executor.js";
import { fenceDelivery } from "../../src/node/delivery-fence.js";
import { NodeStateStore } from "../../src/node/node-state-store.js";
import type { Outcome } from "../../src/node/process-supervisor.js";

const QUIET = createLogger({ name: "sim-node", level: "silent", pretty: false });

export interface SimProcess {
  instance: number;
  state: "idle" | "running" | "stopped" | "failed";
}

/** Process supervision as state only: what runs, as which instance; starts are reported. */
export class MemorySupervisor {
  readonly processes = new Map<string, SimProcess>();

  constructor(
    ids: string[],
    private readonly started: (processId: string, instance: number) => void,
  ) {
    for (const id of ids) this.processes.set(id, { instance: 0, state: "idle" });
  }

  /** The same decisions as ProcessSupervisor.run, without the child process. */
  run(id: string, instance: number, mode: "start" | "respawn"): Promise<Outcome> {
    const p = this.processes.get(id);
    if (!p) return Promise.resolve({ ok: false, detail: `no process "${id}" on this node` });
    const alive = p.state === "running";
    if (alive && instance <= p.instance) {
      this.started(id, p.instance);
      return Promise.resolve({ ok: true, detail: `${id} already runs as instance ${p.instance}` });
    }
    if (alive && mode === "start") {
      p.instance = instance;
      this.started(id, instance);
      return Promise.resolve({ ok: true, detail: `${id} already running; now instance ${instance}` });
    }
    p.instance = instance;
    p.state = "running";
    this.started(id, instance);
    return Promise.resolve({ ok: true, detail: `${id} started as instance ${instance}` });
  }

  stop(id: string): Promise<Outcome> {
    const p = this.processes.get(id);
    if (!p) return Promise.resolve({ ok: false, detail: `no process "${id}" on this node` });
    p.state = "stopped";
    return Promise.resolve({ ok: true, detail: `${id} stopped` });
  }
}

/** What a node service asks of the simulated world. */
export interface NodeHost {
  now(): number;
  schedule(at: number, fn: () => void): void;
  /** Sends events to a replica; `answer` is called at most once, with the leader's term or a hint. */
  submit(
    from: string,
    to: string,
    events: Event[],
    answer: (a: { ok: true; term: number } | { ok: false; leader: string | null }) => void,
  ): void;
  replicas(): string[];
  /** A node carried out a command delivered in `term` (for the fencing invariant). */
  obeyed(nodeId: string, term: number, command: Command): void;
}

export type DeliveryAnswer = { ok: true; response: ExecuteCommandResponse } | { ok: false; error: string };

export class SimNodeService {
  alive = false;
  incarnation = 0;
  /** The highest term seen: on disk in a real node service, so it survives deaths. */
  highestTerm = 0;
  executor!: CommandExecutor;
  /** The epoch and command answers: on disk in a real node service, so they survive deaths. */
  private state: NodeStateStore | null = null;
  supervisor!: MemorySupervisor;
  private queue: Event[] = [];
  private seq = 0;
  private sending = false;
  private leaderGuess: string | null = null;
  /** Whether commands are obeyed without the term check (a planted bug). */
  ignoreTerm = false;

  constructor(
    readonly id: string,
    readonly hostId: string,
    readonly processIds: string[],
    private readonly host: NodeHost,
    private readonly heartbeatMs: number,
  ) {}

  get epoch(): number {
    return this.alive ? this.executor.epoch : 0;
  }

  /** Starts (again): a fresh run that remembers what a node service keeps on disk (term, epoch, answers). */
  start(): void {
    this.alive = true;
    this.incarnation++;
    this.queue = [];
    this.sending = false;
    this.supervisor = new MemorySupervisor(this.processIds, (processId, instance) =>
      this.report("started", { processStarted: { processId, instance } }),
    );
    this.state ??= NodeStateStore.inMemory(undefined, () => this.host.now());
    this.executor = new CommandExecutor(this.id, this.supervisor, this.state, QUIET);
    this.report("joined", {
      nodeJoined: { nodeId: this.id, hostId: this.hostId, address: "", epoch: this.state.epoch },
    });
    const incarnation = this.incarnation;
    const beat = () => {
      if (!this.alive || this.incarnation !== incarnation) return;
      if (!this.queue.some((e) => e.nodeHeartbeat))
        this.report("heartbeat", { nodeHeartbeat: { nodeId: this.id, epoch: this.executor.epoch } });
      this.host.schedule(this.host.now() + this.heartbeatMs, beat);
    };
    this.host.schedule(this.host.now() + this.heartbeatMs, beat);
  }

  /** The node's process dies: it answers nothing and reports nothing until started again. */
  die(): void {
    this.alive = false;
    this.incarnation++;
  }

  /** A process exits and the node gives up on it locally: ProcessFailed. */
  failProcess(processId: string): boolean {
    const p = this.supervisor.processes.get(processId);
    if (!this.alive || !p || p.state !== "running") return false;
    p.state = "failed";
    this.report("failed", {
      processFailed: { processId, instance: p.instance, reason: "exited (simulated)" },
    });
    return true;
  }

  /** NodeService.ExecuteCommand, as node-service.ts does it after authentication. */
  execute(
    command: Command,
    target: string,
    leaderId: string,
    term: number,
    answer: (a: DeliveryAnswer) => void,
  ): void {
    if (!this.alive) return; // a dead process answers nothing: the caller times out
    if (target !== this.id) return answer({ ok: false, error: `the delivery is for "${target}"` });
    const refusal = fenceDelivery(command, term, leaderId, this.highestTerm);
    if (refusal && !(this.ignoreTerm && refusal.kind === "stale"))
      return answer({ ok: false, error: refusal.detail });
    if (term > this.highestTerm) this.highestTerm = term;
    this.host.obeyed(this.id, term, command);
    const incarnation = this.incarnation;
    void this.executor.execute(command).then((response) => {
      if (this.alive && this.incarnation === incarnation) answer({ ok: true, response });
    });
  }

  private report(kind: string, body: Omit<Event, "id" | "source">): void {
    this.queue.push({ ...body, id: `${this.id}.${this.incarnation}.${++this.seq}.${kind}`, source: this.id });
    this.pump();
  }

  /** Sends the oldest events to the replica it believes leads; again, the same ids, until acknowledged. */
  private pump(): void {
    if (this.sending || !this.alive || this.queue.length === 0) return;
    this.sending = true;
    const incarnation = this.incarnation;
    const batch = this.queue.slice(0, 20);
    const replicas = this.host.replicas();
    const to = this.leaderGuess ?? replicas[this.seq % replicas.length]!;
    let settled = false;
    const settle = (acked: boolean) => {
      if (settled || this.incarnation !== incarnation) return;
      settled = true;
      this.sending = false;
      if (acked) this.queue = this.queue.filter((e) => !batch.includes(e));
      if (acked) this.pump();
      else this.host.schedule(this.host.now() + 200, () => this.pump());
    };
    this.host.submit(this.id, to, batch, (a) => {
      if (a.ok) {
        // The leader's answer names its term: the node learns of a new leader before its first command.
        if (a.term > this.highestTerm) this.highestTerm = a.term;
        this.leaderGuess = to;
      } else this.leaderGuess = a.leader !== to ? a.leader : null;
      settle(a.ok);
    });
    this.host.schedule(this.host.now() + 1_000, () => {
      if (!settled) this.leaderGuess = null;
      settle(false);
    });
  }
}
