// What the leader's dispatcher should send, and when: every pending command
// of the outbox, a broadcast expanded to the nodes that still await it, each
// delivery repeated after `retryAfterMs` until the command is acknowledged
// (a CommandResult applied) or superseded. Leader-local, not replicated: a new
// leader delivers everything pending again, which node services tolerate
// (they execute commands idempotently).
import type { Command } from "../../gen/halon/v1/events.js";
import { BROADCAST } from "../epochs.js";

export interface Delivery {
  /** A node id, or for RespawnNode the host id (the command carries the infra endpoint). */
  to: string;
  command: Command;
}

/** What the plan needs from the state machine. */
export interface OutboxView {
  pendingCommands(): Command[];
  nodesAwaitingEpoch(): string[];
}

export class DispatchPlan {
  private readonly sentAt = new Map<string, number>();

  constructor(readonly retryAfterMs: number) {}

  /** A new term: forget what was sent, deliver everything again. */
  becameLeader(): void {
    this.sentAt.clear();
  }

  /** The deliveries due at `now`, oldest command first; marks them sent. */
  due(view: OutboxView, now: number): Delivery[] {
    const out: Delivery[] = [];
    const live = new Set<string>();
    let awaiting: string[] | undefined;
    for (const command of view.pendingCommands()) {
      const targets =
        command.target === BROADCAST ? (awaiting ??= view.nodesAwaitingEpoch()) : [command.target];
      for (const to of targets) {
        const key = `${command.id}@${to}`;
        live.add(key);
        const last = this.sentAt.get(key);
        if (last === undefined || now - last >= this.retryAfterMs) {
          this.sentAt.set(key, now);
          out.push({ to, command });
        }
      }
    }
    // Forget deliveries of commands that are no longer pending.
    for (const key of this.sentAt.keys()) if (!live.has(key)) this.sentAt.delete(key);
    return out;
  }
}
