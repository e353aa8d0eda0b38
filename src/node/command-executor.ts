// Carries out the coordinator's commands (NodeService.ExecuteCommand) on this
// node, idempotently: the answer to a command is remembered by its id and the
// log entry that issued it, on disk (node-state-store.ts), so a second delivery
// of the same command (delivery is at least once), even after a restart of the
// node service, gets the same answer without doing anything again, while a
// command with a known id from another entry is not mistaken for it; an
// EpochTransition not newer than the node's epoch (also on disk) is a no-op. A command this node service cannot carry out gets
// ok=false with a reason, which the coordinator records; it never throws.
import type { Command } from "../gen/halon/v1/events.js";
import type { ExecuteCommandResponse } from "../gen/halon/v1/node.js";
import type { Logger } from "../log/logger.js";
import type { NodeStateStore } from "./node-state-store.js";
import type { Outcome, ProcessSupervisor } from "./process-supervisor.js";

export class CommandExecutor {
  /** Commands in progress, by command id and issuing entry; done ones are in the store. */
  private readonly inProgress = new Map<string, Promise<ExecuteCommandResponse>>();

  constructor(
    private readonly nodeId: string,
    /** The process supervisor (an in-memory one in the coordinator simulator). */
    private readonly supervisor: Pick<ProcessSupervisor, "run" | "stop">,
    private readonly state: NodeStateStore,
    private readonly logger: Logger,
    /** Called when the node moves to a newer epoch. */
    private readonly onEpoch: (epoch: number) => void = () => undefined,
  ) {}

  /** The last cluster epoch this node applied (0: none). */
  get epoch(): number {
    return this.state.epoch;
  }

  execute(command: Command): Promise<ExecuteCommandResponse> {
    const key = `${command.id}@${command.issuedIndex}/${command.issuedTerm}`;
    const done = this.state.answerTo(key);
    if (done) return Promise.resolve({ ok: done.ok, detail: `${done.detail} (already done)` });
    const running = this.inProgress.get(key);
    if (running) return running.then((a) => ({ ok: a.ok, detail: `${a.detail} (already done)` }));
    const answer = this.carryOut(command)
      .catch((err: unknown): ExecuteCommandResponse => ({
        ok: false,
        detail: `internal error: ${err instanceof Error ? err.message : String(err)}`,
      }))
      .then((a): ExecuteCommandResponse => {
        try {
          this.state.remember(key, a);
        } catch (err) {
          // Unrecorded, the answer could be asked for again after a restart and the
          // command done twice: say so, and let the leader deliver it again.
          return { ok: false, detail: `${a.detail}; but cannot record the answer: ${String(err)}` };
        } finally {
          this.inProgress.delete(key);
        }
        return a;
      });
    this.inProgress.set(key, answer);
    void answer.then((a) =>
      this.logger.info(
        { command: command.id, kind: kindOf(command), ok: a.ok, detail: a.detail },
        "command done",
      ),
    );
    return answer;
  }

  private async carryOut(c: Command): Promise<ExecuteCommandResponse> {
    if (c.epochTransition) {
      const epoch = c.epochTransition.epoch;
      if (epoch <= this.state.epoch) return { ok: true, detail: `epoch ${this.state.epoch} already applied` };
      // On disk before it is acknowledged: a restart must not forget an epoch it applied.
      this.state.recordEpoch(epoch);
      this.onEpoch(epoch);
      return { ok: true, detail: `epoch ${epoch} applied by ${this.nodeId}` };
    }
    if (c.startProcesses) {
      const s = c.startProcesses;
      if (s.nodeId !== "" && s.nodeId !== this.nodeId)
        return { ok: false, detail: `start_processes is for node ${s.nodeId}, this is ${this.nodeId}` };
      if (s.processes.length === 0) return { ok: true, detail: "nothing to start" };
      return merge(
        await Promise.all(s.processes.map((p) => this.supervisor.run(p.processId, p.instance, "start"))),
      );
    }
    if (c.respawnProcess) {
      const r = c.respawnProcess;
      return this.supervisor.run(r.processId, r.instance, "respawn");
    }
    if (c.stopProcesses) {
      const s = c.stopProcesses;
      if (s.nodeId !== "" && s.nodeId !== this.nodeId)
        return { ok: false, detail: `stop_processes is for node ${s.nodeId}, this is ${this.nodeId}` };
      return merge(await Promise.all(s.processIds.map((id) => this.supervisor.stop(id))));
    }
    if (c.respawnNode)
      return {
        ok: false,
        detail: `respawn_node goes to a host's infrastructure endpoint; node service ${this.nodeId} cannot respawn nodes`,
      };
    return { ok: false, detail: `unknown command ${c.id}: no body this node service knows` };
  }
}

/** One answer for several processes: ok when all are, with every detail. */
function merge(outcomes: Outcome[]): ExecuteCommandResponse {
  return { ok: outcomes.every((o) => o.ok), detail: outcomes.map((o) => o.detail).join("; ") };
}

function kindOf(c: Command): string {
  if (c.epochTransition) return "epoch-transition";
  if (c.startProcesses) return "start-processes";
  if (c.respawnProcess) return "respawn-process";
  if (c.stopProcesses) return "stop-processes";
  if (c.respawnNode) return "respawn-node";
  return "unknown";
}
