// Commands decided but not yet acknowledged. The leader's dispatcher delivers
// what is here; a CommandResult event removes a command. Each command has a
// slot ("epoch:n1", "respawn-node:n1"...): a newer command in the same slot
// supersedes the older one, so the outbox holds at most one command per slot
// and cannot grow without bound.
import type { Command } from "../gen/halon/v1/events.js";

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

/** Where a transaction started (see savepoint()). */
export interface OutboxSavepoint {
  readonly next: number;
  readonly journal: number;
}

/** What reverses one change: a command that entered ("add") or left ("del") the outbox. */
interface UndoStep {
  add: boolean;
  entry: OutboxEntry;
}

export class Outbox {
  private next = 1;
  /** Undo steps since the first savepoint, while `journaling` (reused between transactions). */
  private readonly journal: UndoStep[] = [];
  private journaling = false;
  /** By command id; insertion order is issue order (ids are numbered). */
  private readonly byId = new Map<string, OutboxEntry>();
  private readonly bySlot = new Map<string, string>();
  /** Occupied slots by family (the part before ":"), to clear a family without a scan. */
  private readonly families = new Map<string, Set<string>>();
  /** The entry being applied: every command it issues carries its index and term. */
  private entry = { index: 0, term: 0 };

  /** Called before applying each entry (not part of the state: it is the entry's own position). */
  applying(index: number, term: number): void {
    this.entry = { index, term };
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * Numbers a new command, puts it in `slot` (superseding what was there),
   * returns it and what it superseded. `body` must have its keys in sorted
   * order at every level (see plain.ts); the top level is sorted here.
   */
  issue(
    slot: string,
    target: string,
    time: number,
    body: Omit<Command, "id" | "target" | "issuedAtMs" | "issuedIndex" | "issuedTerm">,
  ): { command: Command; superseded?: Command } {
    const command = withFields(body, `c${this.next++}`, time, this.entry.index, this.entry.term, target);
    const previous = this.bySlot.get(slot);
    let superseded: Command | undefined;
    if (previous !== undefined) {
      const old = this.byId.get(previous);
      superseded = old?.command;
      this.byId.delete(previous);
      if (old && this.journaling) this.journal.push({ add: false, entry: old });
    }
    const entry = { command, slot };
    this.occupy(entry);
    if (this.journaling) this.journal.push({ add: true, entry });
    return superseded ? { command, superseded } : { command };
  }

  get(id: string): OutboxEntry | undefined {
    return this.byId.get(id);
  }

  /** Removes and returns the command, or undefined when it is not pending. */
  acknowledge(id: string): OutboxEntry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    this.remove(entry);
    if (this.journaling) this.journal.push({ add: false, entry });
    return entry;
  }

  /** Starts (or nests in) a transaction; undo(savepoint) reverses what follows it. */
  savepoint(): OutboxSavepoint {
    this.journaling = true;
    return { next: this.next, journal: this.journal.length };
  }

  /** Puts the outbox back as it was at `sp`: same commands, same order, same numbering. */
  undo(sp: OutboxSavepoint): void {
    const journal = this.journal;
    if (!this.journaling) throw new Error("outbox undo without a savepoint");
    let readded = false;
    for (let i = journal.length - 1; i >= sp.journal; i--) {
      const step = journal[i] as UndoStep;
      if (step.add) this.remove(step.entry);
      else {
        this.occupy(step.entry);
        readded = true;
      }
    }
    journal.length = sp.journal;
    this.next = sp.next;
    if (readded) {
      // Commands are kept in issue order (their number): put the re-added ones back in place.
      const entries = [...this.byId.values()].sort((a, b) => numberOf(a) - numberOf(b));
      this.byId.clear();
      for (const e of entries) this.byId.set(e.command.id, e);
    }
  }

  /** Whether anything changed since the savepoint. */
  changedSince(sp: OutboxSavepoint): boolean {
    return this.journal.length > sp.journal || this.next !== sp.next;
  }

  /** Ends the transaction. */
  commit(): void {
    this.journaling = false;
    if (this.journal.length > 0) this.journal.length = 0; // most transactions issue nothing
  }

  /** Drops every command of a family ("epoch" for "epoch:n1", ...), except the slot `keep`; in slot order. */
  cancelFamily(family: string, keep?: string): void {
    const slots = this.families.get(family);
    if (!slots) return;
    for (const slot of [...slots].sort()) if (slot !== keep) this.cancel(slot);
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
    for (const e of data.pending) o.occupy(e);
    return o;
  }

  private remove(entry: OutboxEntry): void {
    this.byId.delete(entry.command.id);
    if (this.bySlot.get(entry.slot) === entry.command.id) {
      this.bySlot.delete(entry.slot);
      this.families.get(familyOf(entry.slot))?.delete(entry.slot);
    }
  }

  private occupy(entry: OutboxEntry): void {
    this.byId.set(entry.command.id, entry);
    this.bySlot.set(entry.slot, entry.command.id);
    const family = familyOf(entry.slot);
    const set = this.families.get(family);
    if (set) set.add(entry.slot);
    else this.families.set(family, new Set([entry.slot]));
  }
}

/** Ids are "c" and the issue number. */
function numberOf(e: OutboxEntry): number {
  return Number(e.command.id.slice(1));
}

function familyOf(slot: string): string {
  const i = slot.indexOf(":");
  return i < 0 ? slot : slot.slice(0, i);
}

/** Names of the fields issue() adds, sorted. */
const FIELDS = ["id", "issuedAtMs", "issuedIndex", "issuedTerm", "target"] as const;

/**
 * The command: `body`'s fields and the issue fields, top-level keys in sorted
 * order (see plain.ts), undefined fields left out. One pass, one object: it
 * runs for every command.
 */
function withFields(
  body: Record<string, unknown>,
  id: string,
  issuedAtMs: number,
  issuedIndex: number,
  issuedTerm: number,
  target: string,
): Command {
  const values = [id, issuedAtMs, issuedIndex, issuedTerm, target];
  const keys = Object.keys(body);
  if (keys.length > 1) keys.sort();
  const out: Record<string, unknown> = {};
  let f = 0;
  for (const k of keys) {
    while (f < FIELDS.length && (FIELDS[f] as string) < k) out[FIELDS[f] as string] = values[f++];
    if (body[k] !== undefined && !(FIELDS as readonly string[]).includes(k)) out[k] = body[k];
  }
  while (f < FIELDS.length) out[FIELDS[f] as string] = values[f++];
  return out as unknown as Command;
}
