// The recovery coordinator's domain logic: it checks each validated event
// against the graph, records what the event says, feeds the CEP rules and
// carries out what they decide (graph changes and commands in the outbox).
// Everything here is deterministic: no clock but `now`, sorted iteration only.
// Epochs and the broadcast bookkeeping live in epochs.ts.
import type { Command } from "../gen/halon/v1/events.js";
import { EventOutcome } from "../gen/halon/v1/events.js";
import type { Graph, GraphSavepoint } from "../graph/index.js";
import { compareStrings } from "../graph/index.js";
import type { RcConfig } from "./config.js";
import { RcRejection, type DomainEvent } from "./domain.js";
import { BROADCAST, Epochs, type VectorChange } from "./epochs.js";
import type { Outbox, OutboxSavepoint } from "./outbox.js";
import type { EngineIncident, RuleRunner, TimedIntent } from "./rules/runner.js";
import type { Intent, RuleEvent } from "./rules/types.js";
import { lastKnownState, setProcessState, setServiceState, showHosted } from "./shown-state.js";
import { ruleEventSubject, type PhaseChange, type RuleStepTrace } from "./trace.js";
import { applyTopology, CLUSTER_ID, ensureCluster, UNPLACED_ENCLOSURE, UNPLACED_RACK } from "./topology.js";

export interface Outcome {
  outcome: EventOutcome;
  reason?: string;
}

const APPLIED: Outcome = { outcome: EventOutcome.EVENT_OUTCOME_APPLIED };
const stale = (reason: string): Outcome => ({ outcome: EventOutcome.EVENT_OUTCOME_IGNORED_STALE, reason });

/**
 * The coordinator's rules for events, by kind of event: each checks the event
 * against the graph, records what it says, and feeds the CEP recovery rules
 * (rules/). With the recovery rules, whose intents the coordinator carries
 * out, they are the coordinator's rule network (docs/rc.md, "The rule
 * network"); explain shows each graph change and command under its rule.
 */
export const EVENT_RULES: Readonly<Record<DomainEvent["type"], string>> = {
  "topology-declared": "topology",
  "node-joined": "node-liveness",
  "node-heartbeat": "node-liveness",
  "node-silent": "node-liveness",
  "node-drained": "node-drain",
  "process-failed": "process-reports",
  "process-started": "process-reports",
  "process-local-restart": "process-reports",
  "striping-error": "disk-health",
  "disk-failed": "disk-health",
  "disk-replaced": "disk-health",
  "epoch-request": "epochs",
  "command-result": "acknowledgements",
  unknown: "unknown-events",
};

/** What an event is about: the key its rule runs for. */
function eventKey(e: DomainEvent): string {
  switch (e.type) {
    case "process-failed":
    case "process-started":
    case "process-local-restart":
      return e.processId;
    case "node-heartbeat":
    case "node-joined":
    case "node-silent":
    case "node-drained":
    case "epoch-request":
      return e.nodeId;
    case "striping-error":
    case "disk-failed":
    case "disk-replaced":
      return e.diskId;
    case "topology-declared":
      return e.topology.clusterName;
    case "command-result":
      return e.commandId;
    case "unknown":
      return e.name;
  }
}

/** Unknown events kept for the record: the total, and the most recent ones. */
export interface UnknownRecord {
  count: number;
  /** [event id, name, time], oldest first, at most config.unknownEventsKept. */
  recent: [string, string, number][];
}

/** Where a transaction (one event, or one timer) started. */
export interface CoordinatorSavepoint {
  graph: GraphSavepoint;
  outbox: OutboxSavepoint;
  issued: number;
  incidents: number;
  /** Trace steps taken before it (not state). */
  ruleSteps: number;
}

/** A rule function threw while the transaction ran: the whole transaction is undone. */
export class RuleFailed extends Error {
  constructor(
    readonly rule: string,
    readonly key: string,
    readonly during: string,
  ) {
    super(`rule "${rule}" failed (${during}) on "${key}"`);
    this.name = "RuleFailed";
  }
}

/** A timer whose work failed: undone, and its rule instance dropped (it would fail again at once). */
export interface TimerFault {
  rule: string;
  key: string;
  due: number;
  error: unknown;
}

export class Coordinator {
  /** Log time: the largest entry time seen; never goes back. */
  now = 0;
  /** Epochs, failure vectors and the broadcast's bookkeeping (derived from the graph). */
  private epochs: Epochs;
  /** Commands issued since the caller last took them (for the apply result). */
  issued: Command[] = [];
  incidents: EngineIncident[] = [];
  /** Timers undone since the caller last took them. */
  timerFaults: TimerFault[] = [];
  /** The rule whose intent is being carried out ("" outside), to name it when that fails. */
  activeRule = "";
  /** The unknown-event record as it was at the savepoint, once an event changed it. */
  private unknownBefore: UnknownRecord | null = null;
  private inTransaction = false;
  /**
   * Not state: while someone traces (history and explain), every CEP step as
   * it is taken, until the tracer takes them; null while nobody does (reading
   * phases costs a little). undo() drops the steps of the undone transaction,
   * as the graph drops its changes, so a trace never shows undone work.
   */
  ruleSteps: RuleStepTrace[] | null = null;
  /** Not state: while tracing, the graph steps open (innermost last) and where their next changes and commands begin. */
  private openSteps: RuleStepTrace[] = [];
  private stepChangeMark = 0;
  private stepIssuedMark = 0;

  constructor(
    readonly config: RcConfig,
    readonly graph: Graph,
    readonly outbox: Outbox,
    public rules: RuleRunner,
    readonly unknown: UnknownRecord,
  ) {
    this.epochs = new Epochs(graph, outbox, (slot, target, body) => this.issue(slot, target, body));
  }

  /** Nodes a broadcast EpochTransition (target "*") is still to be delivered to, sorted. */
  nodesAwaitingEpoch(): string[] {
    return this.epochs.nodesAwaiting();
  }

  /**
   * Moves time to `time` (if later) and carries out whatever timers fall due,
   * each timer a transaction of its own: one whose work fails is undone, its
   * rule instance dropped, and reported in timerFaults; the others go on.
   */
  advanceTo(time: number): void {
    if (time > this.now) this.now = time;
    for (;;) {
      const next = this.rules.nextTimer();
      if (next === undefined || next.due > this.now) break;
      const sp = this.savepoint();
      try {
        this.execute(this.step(null, next));
        this.checkRules(sp);
        this.commit();
      } catch (error) {
        this.undo(sp, { rule: next.rule, key: next.key });
        this.timerFaults.push({ rule: next.rule, key: next.key, due: next.due, error });
      }
    }
    this.execute(this.step(null));
  }

  // ---------------------------------------------------------------- transactions

  /** Starts a transaction over everything an event or a timer can change. */
  savepoint(): CoordinatorSavepoint {
    this.inTransaction = true;
    this.unknownBefore = null;
    this.rules.savepoint();
    return {
      graph: this.graph.savepoint(),
      outbox: this.outbox.savepoint(),
      issued: this.issued.length,
      incidents: this.incidents.length,
      ruleSteps: this.ruleSteps?.length ?? 0,
    };
  }

  /** Throws RuleFailed when a rule function threw since the savepoint (the engine only dropped its part). */
  checkRules(sp: CoordinatorSavepoint): void {
    for (let i = sp.incidents; i < this.incidents.length; i++) {
      const inc = this.incidents[i] as EngineIncident;
      if (inc.kind === "error") throw new RuleFailed(inc.rule, inc.key, inc.detail);
    }
  }

  commit(): void {
    this.graph.commit();
    this.outbox.commit();
    this.rules.commit();
    this.unknownBefore = null;
    this.inTransaction = false;
    this.activeRule = "";
  }

  /** Undoes everything since the savepoint, exactly; `quarantine` names a rule instance to drop. */
  undo(sp: CoordinatorSavepoint, quarantine?: { rule: string; key: string }): void {
    const changed = this.graph.changedSince(sp.graph) || this.outbox.changedSince(sp.outbox);
    this.graph.undo(sp.graph);
    this.graph.commit();
    this.outbox.undo(sp.outbox);
    this.outbox.commit();
    this.rules.undo(quarantine);
    this.issued.length = sp.issued;
    this.incidents.length = sp.incidents;
    if (this.ruleSteps !== null && this.ruleSteps.length > sp.ruleSteps) this.ruleSteps.length = sp.ruleSteps;
    this.openSteps.length = 0;
    if (this.unknownBefore !== null) {
      this.unknown.count = this.unknownBefore.count;
      this.unknown.recent.length = 0;
      this.unknown.recent.push(...this.unknownBefore.recent);
    }
    // Derived from the graph and the outbox, which are back as they were.
    if (changed)
      this.epochs = new Epochs(this.graph, this.outbox, (slot, target, body) =>
        this.issue(slot, target, body),
      );
    this.unknownBefore = null;
    this.inTransaction = false;
    this.activeRule = "";
  }

  /** Applies one validated event. Throws RcRejection (or GraphError) before changing anything. */
  handle(id: string, e: DomainEvent): Outcome {
    if (this.ruleSteps === null) return this.takeEvent(id, e);
    const step = this.beginStep(EVENT_RULES[e.type], eventKey(e), e.type);
    const outcome = this.takeEvent(id, e);
    this.endStep(step);
    return outcome;
  }

  /** The event's rule (EVENT_RULES) at work. */
  private takeEvent(id: string, e: DomainEvent): Outcome {
    switch (e.type) {
      case "topology-declared":
        return this.topology(e.topology);
      case "process-failed":
        return this.processFailed(e.processId, e.instance);
      case "process-started":
        return this.processStarted(e.processId, e.instance);
      case "process-local-restart":
        return this.processLocalRestart(e.processId, e.instance);
      case "node-heartbeat":
        return this.nodeHeard(e.nodeId, e.epoch);
      case "node-joined":
        return this.nodeJoined(e.nodeId, e.hostId, e.address, e.epoch);
      case "node-silent":
        return this.nodeSilent(e.nodeId);
      case "striping-error":
        return this.stripingError(e.poolId, e.diskId);
      case "disk-failed":
        return this.diskFailed(e.diskId);
      case "disk-replaced":
        return this.diskReplaced(e.diskId, e.serial);
      case "node-drained":
        return this.nodeDrained(e.nodeId);
      case "epoch-request":
        this.graph.require(e.nodeId, "Node");
        this.epochs.send(e.nodeId);
        return { outcome: EventOutcome.EVENT_OUTCOME_APPLIED, reason: `epoch ${this.epoch()}` };
      case "command-result":
        return this.commandResult(e.commandId, e.ok, e.nodeId);
      case "unknown":
        this.recordUnknown(id, e.name);
        return { outcome: EventOutcome.EVENT_OUTCOME_RECORDED_UNKNOWN, reason: `no rule for "${e.name}"` };
    }
  }

  recordUnknown(id: string, name: string): void {
    if (this.inTransaction && this.unknownBefore === null)
      this.unknownBefore = { count: this.unknown.count, recent: this.unknown.recent.slice() };
    this.unknown.count++;
    this.unknown.recent.push([id, name, this.now]);
    if (this.unknown.recent.length > this.config.unknownEventsKept) this.unknown.recent.shift();
  }

  epoch(): number {
    return this.epochs.current();
  }

  // ---------------------------------------------------------------- events

  private topology(t: Parameters<typeof applyTopology>[1]): Outcome {
    const effect = applyTopology(this.graph, t);
    // Pools may have appeared: the cached transition no longer describes them all.
    this.epochs.forgetTransition();
    for (const nodeId of [...effect.newProcessesByNode.keys()].sort(compareStrings))
      this.startProcesses(nodeId, effect.newProcessesByNode.get(nodeId) as string[]);
    return APPLIED;
  }

  private processFailed(pid: string, instance: number): Outcome {
    this.graph.require(pid, "Process");
    const current = this.num(pid, "instance");
    const state = lastKnownState(this.graph, pid);
    if (instance < current) return stale(`instance ${instance} was replaced by ${current}`);
    if (instance === current && (state === "failed" || state === "stopped"))
      return stale(`instance ${instance} is already ${String(state)}`);
    if (this.graph.attr(pid, "recovering") === true && state !== "starting" && state !== "online")
      return stale("already being recovered");
    setProcessState(this.graph, pid, { instance, state: "failed", recovering: true });
    const nodeId = this.graph.neighbour(pid, "runs", "in");
    const nodeUp = nodeId !== undefined && this.isUsable(nodeId);
    this.feed({ t: "process-failed", processId: pid, nodeUp });
    return APPLIED;
  }

  private processStarted(pid: string, instance: number): Outcome {
    this.graph.require(pid, "Process");
    const current = this.num(pid, "instance");
    if (instance < current) return stale(`instance ${instance} was replaced by ${current}`);
    setProcessState(this.graph, pid, { instance, state: "online", recovering: false });
    for (const s of this.graph.neighbours(pid, "provides")) setServiceState(this.graph, s, "up");
    this.outbox.cancel(`respawn-process:${pid}`);
    this.feed({ t: "process-started", processId: pid });
    return APPLIED;
  }

  private processLocalRestart(pid: string, instance: number): Outcome {
    this.graph.require(pid, "Process");
    const current = this.num(pid, "instance");
    if (instance <= current) return stale(`instance ${instance} is not newer than ${current}`);
    // Recorded only: the node service handled it.
    setProcessState(this.graph, pid, {
      instance,
      state: "online",
      localRestarts: this.num(pid, "localRestarts") + 1,
    });
    return APPLIED;
  }

  private nodeHeard(nodeId: string, epoch: number): Outcome {
    // The most frequent event: one lookup, and nothing written unless something changed.
    const node = this.graph.require(nodeId, "Node");
    if (epoch > ((node.attrs.ackedEpoch as number | undefined) ?? 0)) this.epochs.recordAck(nodeId, epoch);
    if (node.attrs.state !== "online") this.bringOnline(nodeId);
    return APPLIED;
  }

  private nodeJoined(nodeId: string, hostId: string, address: string, epoch: number): Outcome {
    const nodeKind = this.graph.kindOf(nodeId);
    if (nodeKind !== undefined && nodeKind !== "Node")
      throw new RcRejection("wrong-kind", `"${nodeId}" is a ${nodeKind}, not a Node`);
    const hostKind = this.graph.kindOf(hostId);
    if (hostKind !== undefined && hostKind !== "Host")
      throw new RcRejection("wrong-kind", `"${hostId}" is a ${hostKind}, not a Host`);
    ensureCluster(this.graph);
    if (hostKind === undefined) {
      if (!this.graph.has(UNPLACED_RACK)) {
        this.graph.addResource(UNPLACED_RACK, "Rack");
        this.graph.connect(CLUSTER_ID, "has", UNPLACED_RACK);
      }
      if (!this.graph.has(UNPLACED_ENCLOSURE)) {
        this.graph.addResource(UNPLACED_ENCLOSURE, "Enclosure");
        this.graph.connect(UNPLACED_RACK, "has", UNPLACED_ENCLOSURE);
      }
      this.graph.addResource(hostId, "Host", { state: "online" });
      this.graph.connect(UNPLACED_ENCLOSURE, "has", hostId);
    }
    if (nodeKind === undefined)
      this.graph.addResource(nodeId, "Node", {
        state: "down",
        ackedEpoch: 0,
        respawnAttempts: 0,
        drained: false,
      });
    this.graph.connect(hostId, "runs", nodeId);
    if (address !== "") this.graph.setAttr(nodeId, "address", address);
    // A join is a fresh node service: what it acknowledged before is gone.
    this.graph.setAttr(nodeId, "ackedEpoch", Math.min(epoch, this.epoch()));
    this.bringOnline(nodeId, true);
    return APPLIED;
  }

  private nodeSilent(nodeId: string): Outcome {
    this.graph.require(nodeId, "Node");
    if (this.graph.attr(nodeId, "drained") === true) return stale("the node is drained");
    if (this.graph.attr(nodeId, "state") !== "online")
      return stale(`the node is already ${String(this.graph.attr(nodeId, "state"))}`);
    this.feed({ t: "node-silent", nodeId });
    return APPLIED;
  }

  private stripingError(poolId: string, diskId: string): Outcome {
    this.graph.require(poolId, "Pool");
    this.graph.require(diskId, "Disk");
    if (!this.graph.hasEdge(poolId, "uses", diskId))
      throw new RcRejection("conflict", `disk "${diskId}" is not in pool "${poolId}"`);
    if (this.epochs.failureVector(poolId).includes(diskId))
      return stale(`disk "${diskId}" is already out of the pool`);
    this.graph.setAttr(diskId, "state", "failed");
    this.epochs.changeVectors([[poolId, diskId, "out"]]);
    return APPLIED;
  }

  private diskFailed(diskId: string): Outcome {
    this.graph.require(diskId, "Disk");
    if (this.graph.attr(diskId, "state") === "failed") return stale("the disk is already failed");
    this.graph.setAttr(diskId, "state", "failed");
    const poolId = this.graph.neighbour(diskId, "uses", "in");
    if (poolId !== undefined && !this.epochs.failureVector(poolId).includes(diskId))
      this.epochs.changeVectors([[poolId, diskId, "out"]]);
    return APPLIED;
  }

  private diskReplaced(diskId: string, serial: string): Outcome {
    this.graph.require(diskId, "Disk");
    this.graph.setAttr(diskId, "state", "online");
    if (serial !== "") this.graph.setAttr(diskId, "serial", serial);
    const poolId = this.graph.neighbour(diskId, "uses", "in");
    if (poolId !== undefined && this.epochs.failureVector(poolId).includes(diskId) && this.diskHostUp(diskId))
      this.epochs.changeVectors([[poolId, diskId, "in"]]);
    return APPLIED;
  }

  private nodeDrained(nodeId: string): Outcome {
    this.graph.require(nodeId, "Node");
    if (this.graph.attr(nodeId, "drained") === true) return stale("the node is already drained");
    this.graph.setAttr(nodeId, "drained", true);
    this.epochs.refresh(nodeId);
    const processes = this.graph.neighbours(nodeId, "runs");
    this.outbox.cancel(`start:${nodeId}`);
    this.feed({ t: "node-drained", nodeId });
    for (const pid of processes) {
      setProcessState(this.graph, pid, { state: "stopped", recovering: false });
      for (const s of this.graph.neighbours(pid, "provides")) setServiceState(this.graph, s, "down");
      this.outbox.cancel(`respawn-process:${pid}`);
      this.feed({ t: "process-stopped", processId: pid });
    }
    if (processes.length > 0 && this.graph.attr(nodeId, "state") === "online")
      this.issue(
        `stop:${nodeId}`,
        nodeId,
        { stopProcesses: { nodeId, processIds: processes } } /* keys sorted */,
      );
    return APPLIED;
  }

  private commandResult(commandId: string, ok: boolean, nodeId: string): Outcome {
    const pending = this.outbox.get(commandId);
    if (!pending)
      return stale(`command "${commandId}" is not pending (acknowledged, superseded or cancelled)`);
    if (pending.command.target === BROADCAST) {
      // One answer per node; the broadcast ends when the last awaited node has answered.
      if (nodeId === "")
        throw new RcRejection("bad-field", "command_result.node_id is required for a broadcast");
      this.graph.require(nodeId, "Node");
      if (ok) this.epochs.recordAck(nodeId, pending.command.epochTransition?.epoch ?? 0);
      return APPLIED;
    }
    this.outbox.acknowledge(commandId);
    const c = pending.command;
    if (c.epochTransition && ok && this.graph.kindOf(c.target) === "Node")
      this.epochs.recordAck(c.target, c.epochTransition.epoch);
    if (c.respawnProcess && !ok && this.graph.kindOf(c.respawnProcess.processId) === "Process")
      this.feed({ t: "respawn-failed", processId: c.respawnProcess.processId });
    return APPLIED;
  }

  // ---------------------------------------------------------------- intents

  private feed(event: RuleEvent): void {
    this.execute(this.step(event));
  }

  /**
   * One CEP step: the event fed in, or (null) `timer` fired alone, or (null,
   * no timer) the rules' time moved to now.
   */
  private step(event: RuleEvent | null, timer?: { rule: string; key: string; due: number }): TimedIntent[] {
    const steps = this.ruleSteps;
    if (steps === null) return this.runRules(event, timer);
    const key = event ? ruleEventSubject(event) : null;
    const before = key === null ? [] : this.rules.phasesOf(key);
    const timerBefore = timer ? (this.rules.phaseOf(timer.rule, timer.key) ?? "") : "";
    const intents = this.runRules(event, timer);
    const phases: PhaseChange[] = [];
    if (timer) {
      const after = this.rules.phaseOf(timer.rule, timer.key) ?? "";
      if (timerBefore !== "" || after !== "")
        phases.push({ rule: timer.rule, key: timer.key, before: timerBefore, after });
    }
    if (key !== null)
      this.rules.phasesOf(key).forEach(({ rule, phase }, i) => {
        const was = before[i]?.phase ?? "";
        if (was !== "" || phase !== "") phases.push({ rule, key, before: was, after: phase });
      });
    // Timers name their instance only through what they emit; the phase before is not known.
    for (const { rule, key: k } of intents)
      if (k !== key && !phases.some((p) => p.rule === rule && p.key === k))
        phases.push({ rule, key: k, before: "?", after: this.rules.phaseOf(rule, k) ?? "" });
    if (event !== null || intents.length > 0)
      steps.push({
        kind: "cep",
        time: this.now,
        rule: phases[0]?.rule ?? intents[0]?.rule ?? "",
        key: key ?? timer?.key ?? "",
        on: event?.t ?? "timer",
        input: event,
        intents: intents.map((i) => ({ rule: i.rule, key: i.key, time: i.time, intent: i.intent })),
        phases,
        changes: [],
        commands: [],
      });
    return intents;
  }

  /** The CEP step itself (a method, not a closure: it runs for most events). */
  private runRules(
    event: RuleEvent | null,
    timer?: { rule: string; key: string; due: number },
  ): TimedIntent[] {
    if (event !== null) return this.rules.feed(this.now, event, this.incidents);
    if (timer !== undefined) return this.rules.fireNext(timer, this.incidents);
    return this.rules.advance(this.now, this.incidents);
  }

  /** Carries out intents in order; intents may feed the rules again, whose intents follow. */
  private execute(intents: TimedIntent[]): void {
    const queue = intents;
    for (let i = 0; i < queue.length; i++) {
      const { time, rule, key, intent } = queue[i] as TimedIntent;
      this.activeRule = rule;
      const step = this.ruleSteps === null ? null : this.beginStep(rule, key, intent.do);
      const follow = this.carryOut(intent, time);
      this.endStep(step);
      for (const e of follow) queue.push(...this.step(e));
    }
    // Still set when carrying an intent out throws: the failure is then the rule's.
    this.activeRule = "";
  }

  /** Returns the rule events that follow from the intent. */
  private carryOut(intent: Intent, time: number): RuleEvent[] {
    switch (intent.do) {
      case "respawn-process": {
        const pid = intent.processId;
        if (this.graph.kindOf(pid) !== "Process") return [];
        const nodeId = this.graph.neighbour(pid, "runs", "in");
        if (nodeId === undefined) return [];
        const instance = this.num(pid, "instance") + 1;
        const respawns = this.num(pid, "respawns") + (intent.counted ? 1 : 0);
        setProcessState(this.graph, pid, { instance, state: "starting", respawns, recovering: true });
        const command = (this.graph.attr(pid, "command") as string | undefined) ?? "";
        this.issue(
          `respawn-process:${pid}`,
          nodeId,
          { respawnProcess: { attempt: intent.attempt, command, instance, processId: pid } },
          time,
        );
        return [];
      }
      case "process-given-up": {
        const pid = intent.processId;
        if (this.graph.kindOf(pid) !== "Process") return [];
        setProcessState(this.graph, pid, { state: "failed", recovering: false });
        for (const s of this.graph.neighbours(pid, "provides")) setServiceState(this.graph, s, "down");
        this.outbox.cancel(`respawn-process:${pid}`);
        return [];
      }
      case "node-transient":
        return this.nodeAway(intent.nodeId, "transient");
      case "respawn-node": {
        const nodeId = intent.nodeId;
        if (this.graph.kindOf(nodeId) !== "Node") return [];
        const hostId = this.graph.neighbour(nodeId, "runs", "in") ?? "";
        const infraEndpoint =
          hostId === "" ? "" : ((this.graph.attr(hostId, "infraEndpoint") as string) ?? "");
        this.graph.setAttr(nodeId, "respawnAttempts", intent.attempt);
        this.issue(
          `respawn-node:${nodeId}`,
          hostId === "" ? nodeId : hostId,
          { respawnNode: { attempt: intent.attempt, hostId, infraEndpoint, nodeId } },
          time,
        );
        return [];
      }
      case "node-down": {
        const events = this.nodeAway(intent.nodeId, "down");
        this.outbox.cancel(`respawn-node:${intent.nodeId}`);
        // Its disks leave their pools' healthy set.
        const hostId = this.graph.neighbour(intent.nodeId, "runs", "in");
        if (hostId !== undefined) {
          const changes: VectorChange[] = [];
          for (const d of this.graph.neighbours(hostId, "has"))
            if (this.graph.kindOf(d) === "Disk") {
              const poolId = this.graph.neighbour(d, "uses", "in");
              if (poolId !== undefined && !this.epochs.failureVector(poolId).includes(d))
                changes.push([poolId, d, "out"]);
            }
          if (changes.length > 0) this.epochs.changeVectors(changes);
        }
        return events;
      }
    }
  }

  private nodeAway(nodeId: string, state: "transient" | "down"): RuleEvent[] {
    if (this.graph.kindOf(nodeId) !== "Node") return [];
    this.graph.setAttr(nodeId, "state", state);
    const hostId = this.graph.neighbour(nodeId, "runs", "in");
    if (hostId !== undefined) this.graph.setAttr(hostId, "state", state);
    this.outbox.cancel(`epoch:${nodeId}`);
    this.outbox.cancel(`start:${nodeId}`);
    this.outbox.cancel(`stop:${nodeId}`);
    this.epochs.refresh(nodeId);
    const processes = this.graph.neighbours(nodeId, "runs");
    showHosted(this.graph, processes);
    return processes.map((processId) => ({ t: "process-node-down", processId }));
  }

  /** The node is back: online, its processes started, its disks healthy again, the current epoch sent. */
  private bringOnline(nodeId: string, joined = false): void {
    const wasDown = this.graph.attr(nodeId, "state") === "down";
    const wasAway = this.graph.attr(nodeId, "state") !== "online";
    this.graph.setAttrs(nodeId, { state: "online", respawnAttempts: 0 });
    this.epochs.refresh(nodeId);
    const hostId = this.graph.neighbour(nodeId, "runs", "in");
    if (hostId !== undefined) this.graph.setAttr(hostId, "state", "online");
    this.outbox.cancel(`respawn-node:${nodeId}`);
    const processes = this.graph.neighbours(nodeId, "runs");
    // Back to what they were last known in (nothing to do for a node that was online).
    if (wasAway) showHosted(this.graph, processes);
    this.feed({ t: "node-up", nodeId });
    if (this.graph.attr(nodeId, "drained") === true) return;
    // After a join (a fresh node service) every process not under recovery is
    // started; after a heartbeat only those that are neither running nor starting.
    const toStart = processes.filter((pid) => {
      if (this.graph.attr(pid, "recovering") === true) return false;
      const state = this.graph.attr(pid, "state");
      return joined || (state !== "online" && state !== "starting");
    });
    for (const processId of processes)
      if (this.graph.attr(processId, "recovering") === true) this.feed({ t: "process-node-up", processId });
    if (toStart.length > 0) this.startProcesses(nodeId, toStart);
    if (wasDown && hostId !== undefined) {
      const back: VectorChange[] = [];
      for (const d of this.graph.neighbours(hostId, "has"))
        if (this.graph.kindOf(d) === "Disk" && this.graph.attr(d, "state") !== "failed") {
          const poolId = this.graph.neighbour(d, "uses", "in");
          if (poolId !== undefined && this.epochs.failureVector(poolId).includes(d))
            back.push([poolId, d, "in"]);
        }
      if (back.length > 0) this.epochs.changeVectors(back);
    }
    if (this.num(nodeId, "ackedEpoch") < this.epoch()) this.epochs.send(nodeId);
    this.epochs.refresh(nodeId);
  }

  private startProcesses(nodeId: string, pids: string[]): void {
    const processes = pids.map((processId) => {
      const instance = this.num(processId, "instance") + 1;
      setProcessState(this.graph, processId, { instance, state: "starting" });
      // Keys in sorted order (see plain.ts).
      return {
        command: (this.graph.attr(processId, "command") as string | undefined) ?? "",
        instance,
        processId,
      };
    });
    this.issue(`start:${nodeId}`, nodeId, { startProcesses: { nodeId, processes } } /* keys sorted */);
  }

  private diskHostUp(diskId: string): boolean {
    const hostId = this.graph.neighbour(diskId, "has", "in");
    return hostId === undefined || this.graph.attr(hostId, "state") !== "down";
  }

  // ---------------------------------------------------------------- tracing (not state)

  /** Opens a graph step (only while tracing): what the graph and the outbox get from here on is its. */
  private beginStep(rule: string, key: string, on: string): RuleStepTrace {
    if (this.openSteps.length === 0) {
      // Between steps nothing changes: the marks start afresh (the tracer takes changes between causes).
      this.stepChangeMark = this.graph.changeMark;
      this.stepIssuedMark = this.issued.length;
    } else this.flushStep();
    const step: RuleStepTrace = {
      kind: "graph",
      time: this.now,
      rule,
      key,
      on,
      input: null,
      intents: [],
      phases: [],
      changes: [],
      commands: [],
    };
    (this.ruleSteps as RuleStepTrace[]).push(step);
    this.openSteps.push(step);
    return step;
  }

  /** Closes the innermost graph step; one that did nothing, and led to nothing, is left out. */
  private endStep(step: RuleStepTrace | null): void {
    if (step === null) return;
    this.flushStep();
    const top = this.openSteps.pop();
    if (top !== step) throw new Error("graph steps closed out of order");
    const steps = this.ruleSteps as RuleStepTrace[];
    if (steps[steps.length - 1] === step && step.changes.length === 0 && step.commands.length === 0)
      steps.pop();
  }

  /** Gives the changes and commands made since the last mark to the innermost open step. */
  private flushStep(): void {
    const top = this.openSteps[this.openSteps.length - 1] as RuleStepTrace;
    const mark = this.graph.changeMark;
    if (mark > this.stepChangeMark) {
      const fresh = this.graph.changesFrom(this.stepChangeMark);
      // No push(...list): a topology of 100,000 resources is more arguments than a call takes.
      if (top.changes.length === 0) top.changes = fresh;
      else for (const c of fresh) top.changes.push(c);
    }
    for (let i = this.stepIssuedMark; i < this.issued.length; i++)
      top.commands.push(this.issued[i] as Command);
    this.stepChangeMark = mark;
    this.stepIssuedMark = this.issued.length;
  }

  // ---------------------------------------------------------------- helpers

  private isUsable(nodeId: string): boolean {
    return this.graph.attr(nodeId, "state") === "online" && this.graph.attr(nodeId, "drained") !== true;
  }

  private num(id: string, key: string): number {
    return (this.graph.attr(id, key) as number | undefined) ?? 0;
  }

  private issue(
    slot: string,
    target: string,
    body: Omit<Command, "id" | "target" | "issuedAtMs" | "issuedIndex" | "issuedTerm">,
    time: number = this.now,
  ): void {
    this.issued.push(this.outbox.issue(slot, target, time, body).command);
  }
}
