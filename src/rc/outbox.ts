// Commands decided but not yet acknowledged. The leader's dispatcher delivers
// what is here; a CommandResult event removes a command. Each command has a
// slot ("epoch:n1", "respawn-node:n1"...): a newer command in the same slot
// supersedes the older one, so the outbox holds at most one command per slot
// and cannot grow without bound.
import type { Command } from "../gen/halon/v1/events.js";
import { sortedKeysDeep } from "./plain.js";

export interface OutboxEntry {
  command: Command;
  slot: string;
}

export interface OutboxData {
  /** The next command number. */
  next: number;
  /** Pending commands, oldest first. */
  pending: OutboxEntry[];
}

export class Outbox {
  private next = 1;
  /** By command id; insertion order is issue order (ids are numbered). */
  private readonly byId = new Map<string, OutboxEntry>();
  private readonly bySlot = new Map<string, string>();

  get size(): number {
    return this.byId.size;
  }

  /** Numbers a new command, puts it in `slot` (superseding what was there), returns it and what it superseded. */
  issue(
    slot: string,
    target: string,
    time: number,
    body: Omit<Command, "id" | "target" | "issuedAtMs">,
  ): { command: Command; superseded?: Command } {
    const command: Command = sortedKeysDeep({ id: `c${this.next++}`, target, issuedAtMs: time, ...body });
    const previous = this.bySlot.get(slot);
    let superseded: Command | undefined;
    if (previous !== undefined) {
      superseded = this.byId.get(previous)?.command;
      this.byId.delete(previous);
    }
    this.byId.set(command.id, { command, slot });
    this.bySlot.set(slot, command.id);
    return superseded ? { command, superseded } : { command };
  }

  get(id: string): OutboxEntry | undefined {
    return this.byId.get(id);
  }

  /** Removes and returns the command, or undefined when it is not pending. */
  acknowledge(id: string): OutboxEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    this.byId.delete(id);
    this.bySlot.delete(entry.slot);
    return entry;
  }

  /** Drops the command in `slot`, if any (the reason for it is gone). */
  cancel(slot: string): Command | undefined {
    const id = this.bySlot.get(slot);
    return id === undefined ? undefined : this.acknowledge(id)?.command;
  }

  inSlot(slot: string): Command | undefined {
    const id = this.bySlot.get(slot);
    return id === undefined ? undefined : this.byId.get(id)?.command;
  }

  /** Pending commands, oldest first. */
  pending(): Command[] {
    return [...this.byId.values()].map((e) => e.command);
  }

  toData(): OutboxData {
    return { next: this.next, pending: [...this.byId.values()] };
  }

  static fromData(data: OutboxData): Outbox {
    const o = new Outbox();
    o.next = data.next;
    for (const e of data.pending) {
      o.byId.set(e.command.id, e);
      o.bySlot.set(e.slot, e.command.id);
    }
    return o;
  }
}
