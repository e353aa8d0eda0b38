// A synchronous network of bare cores for unit tests: it plays the driver
// (persist = advance at once) and delivers messages until nothing moves,
// optionally dropping some.
import { RaftCore } from "../../../src/raft/core/raft.js";
import type { CoreConfig, UnsafeOptions } from "../../../src/raft/core/config.js";

/** A core's settings, and the bugs planted in it (given apart, as RaftCore takes them). */
export type TestCoreConfig = Partial<CoreConfig> & { unsafe?: UnsafeOptions };
import type { Message } from "../../../src/raft/core/messages.js";
import { MessageType, makeMessage } from "../../../src/raft/core/messages.js";
import { encodeConfigEntry } from "../../../src/raft/core/membership.js";
import { SeededRandom } from "../../../src/raft/core/random.js";
import type { Ready } from "../../../src/raft/core/ready.js";
import type { Entry } from "../../../src/raft/types.js";
import { EntryType } from "../../../src/raft/types.js";

export function bootstrapEntry(voters: string[], learners: string[] = []): Entry {
  return {
    term: 1,
    index: 1,
    type: EntryType.Config,
    data: encodeConfigEntry({ kind: "bootstrap", membership: { voters, learners } }),
  };
}

export class CoreNet {
  readonly cores = new Map<string, RaftCore>();
  readonly applied = new Map<string, Entry[]>();
  readonly sent: Message[] = [];
  /** Every Ready.dropped line, as "<core>: <reason>". */
  readonly dropped: string[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;
  private readonly down = new Set<string>();

  constructor(
    ids: string[],
    private readonly config: TestCoreConfig = {},
    seed = 1,
  ) {
    for (const [k, id] of ids.entries()) {
      const { unsafe, ...settings } = config;
      const core = new RaftCore({
        config: { id, storageId: `${id}-disk1`, ...settings },
        unsafe,
        random: new SeededRandom(seed * 100 + k),
        hardState: { term: 1, vote: null, commit: 1 },
        entries: [bootstrapEntry(ids)],
        compactedIndex: 0,
        compactedTerm: 0,
        snapshot: null,
      });
      this.cores.set(id, core);
      this.applied.set(id, []);
    }
    this.stabilize();
  }

  private wipes = 0;

  /** Replaces `id` by a replica that lost its disk and joins empty (no hard state, no log, a new disk). */
  wipe(id: string, extra: TestCoreConfig = {}): RaftCore {
    const { unsafe, ...settings } = { ...this.config, ...extra };
    const core = new RaftCore({
      config: { id, storageId: `${id}-disk${2 + this.wipes++}`, ...settings },
      unsafe,
      random: new SeededRandom(999),
      hardState: null,
      entries: [],
      compactedIndex: 0,
      compactedTerm: 0,
      snapshot: null,
    });
    this.cores.set(id, core);
    this.applied.set(id, []);
    return core;
  }

  core(id: string): RaftCore {
    const c = this.cores.get(id);
    if (c === undefined) throw new Error(`no core ${id}`);
    return c;
  }

  isolate(id: string): void {
    this.down.add(id);
  }

  recover(): void {
    this.down.clear();
  }

  /** Handles one Ready per core and delivers what they sent, until quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      const msgs: Message[] = [];
      for (const [id, core] of this.cores) {
        while (core.hasReady()) {
          const rd: Ready = core.ready();
          msgs.push(...rd.messages, ...rd.messagesAfterPersist);
          for (const d of rd.dropped) this.dropped.push(`${id}: ${d}`);
          (this.applied.get(id) as Entry[]).push(...rd.committedEntries);
          core.advance(rd);
        }
      }
      if (msgs.length === 0) return;
      for (const m of msgs) {
        this.sent.push(m);
        if (this.down.has(m.from) || this.down.has(m.to) || !this.filter(m)) continue;
        this.cores.get(m.to)?.step(m);
      }
    }
    throw new Error("network did not settle");
  }

  /** Ticks `id` until it is leader (bounded). */
  elect(id: string): void {
    const c = this.core(id);
    for (let i = 0; i < 100 && !c.isLeader(); i++) {
      // TimeoutNow starts an election that the others' leases do not block.
      c.step(makeMessage(MessageType.TimeoutNow, c.lead ?? "test", id, { term: c.term }));
      this.stabilize();
    }
    if (!c.isLeader()) throw new Error(`${id} could not be elected`);
  }

  tickAll(n: number): void {
    for (let i = 0; i < n; i++) {
      // Partitioned replicas keep their clocks.
      for (const c of this.cores.values()) c.tick();
      this.stabilize();
    }
  }

  appliedData(id: string): string[] {
    return (this.applied.get(id) as Entry[])
      .filter((e) => e.type === EntryType.Normal)
      .map((e) => new TextDecoder().decode(e.data));
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
