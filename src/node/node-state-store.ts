// What a node service remembers across its own restarts, in
// `<dataDir>/node-state.json` (written atomically, fsynced): the last cluster
// epoch it applied, its incarnation (a counter raised at every start), and the
// answers to the commands it carried out, so that a command delivered again
// after a restart (delivery is at least once) is answered without being done
// twice. The highest leader term has its own file (term-store.ts), written
// before a command is obeyed. Answers are kept for `retentionMs` and at most
// `maxAnswers` of them: the leader redelivers a command only while it is in
// its outbox, which is far shorter.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { readIfExists, writeFileAtomic } from "./atomic-file.js";

const FILE = "node-state.json";

export interface Answer {
  ok: boolean;
  detail: string;
}

export interface NodeStateLimits {
  /** How long an answer is kept (default one hour). */
  retentionMs: number;
  /** The most answers kept (default 1,024); the oldest go first. */
  maxAnswers: number;
}

export const DEFAULT_NODE_STATE_LIMITS: NodeStateLimits = { retentionMs: 3_600_000, maxAnswers: 1_024 };

const fileSchema = z
  .object({
    version: z.literal(1),
    epoch: z.number().int().nonnegative(),
    incarnation: z.number().int().nonnegative(),
    answers: z.array(
      z.object({ key: z.string(), ok: z.boolean(), detail: z.string(), atMs: z.number().int() }).strict(),
    ),
  })
  .strict();

type StateFile = z.infer<typeof fileSchema>;

export class NodeStateError extends Error {
  override name = "NodeStateError";
}

export class NodeStateStore {
  /** Answers by key, oldest first (a Map keeps insertion order). */
  private readonly answers = new Map<string, { ok: boolean; detail: string; atMs: number }>();

  private constructor(
    /** Where the state is kept; null keeps it in memory only (the coordinator simulator's "disk"). */
    private readonly path: string | null,
    private epochValue: number,
    private incarnationValue: number,
    private readonly limits: NodeStateLimits,
    private readonly now: () => number,
  ) {}

  /**
   * Opens the state in `dir` (created if missing). A file that does not
   * parse refuses the start: guessing would forget an epoch or answers.
   */
  static open(
    dir: string,
    limits: NodeStateLimits = DEFAULT_NODE_STATE_LIMITS,
    now: () => number = Date.now,
  ): NodeStateStore {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, FILE);
    let text: string | undefined;
    try {
      text = readIfExists(path);
    } catch (err) {
      throw new NodeStateError(`cannot read ${path}: ${String(err)}`);
    }
    if (text === undefined) return new NodeStateStore(path, 0, 0, limits, now);
    let parsed: StateFile;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch (err) {
      throw new NodeStateError(
        `${path} is damaged (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); refusing to guess`,
      );
    }
    const store = new NodeStateStore(path, parsed.epoch, parsed.incarnation, limits, now);
    for (const a of parsed.answers) store.answers.set(a.key, { ok: a.ok, detail: a.detail, atMs: a.atMs });
    store.prune();
    return store;
  }

  /** A store kept in memory: it outlives a simulated node's restarts as a disk would. */
  static inMemory(
    limits: NodeStateLimits = DEFAULT_NODE_STATE_LIMITS,
    now: () => number = Date.now,
  ): NodeStateStore {
    return new NodeStateStore(null, 0, 0, limits, now);
  }

  get epoch(): number {
    return this.epochValue;
  }

  /** The incarnation of this run (0 before beginIncarnation). */
  get incarnation(): number {
    return this.incarnationValue;
  }

  /** Raises the incarnation for a new run of the node service, durably; returns it. */
  beginIncarnation(): number {
    this.incarnationValue++;
    this.save();
    return this.incarnationValue;
  }

  /** Records a newer epoch durably before the node acknowledges it; an older one is ignored. */
  recordEpoch(epoch: number): void {
    if (epoch <= this.epochValue) return;
    const before = this.epochValue;
    this.epochValue = epoch;
    try {
      this.save();
    } catch (err) {
      this.epochValue = before;
      throw err;
    }
  }

  /** The remembered answer to the command with this key, if any. */
  answerTo(key: string): Answer | undefined {
    const a = this.answers.get(key);
    return a === undefined ? undefined : { ok: a.ok, detail: a.detail };
  }

  /** Remembers an answer durably. */
  remember(key: string, answer: Answer): void {
    this.answers.delete(key);
    this.answers.set(key, { ok: answer.ok, detail: answer.detail, atMs: this.now() });
    this.prune();
    this.save();
  }

  /** How many answers are kept (for tests and the log). */
  answerCount(): number {
    return this.answers.size;
  }

  private prune(): void {
    const oldest = this.now() - this.limits.retentionMs;
    for (const [key, a] of this.answers) {
      if (this.answers.size <= this.limits.maxAnswers && a.atMs >= oldest) break;
      this.answers.delete(key);
    }
  }

  private save(): void {
    if (this.path === null) return;
    const file: StateFile = {
      version: 1,
      epoch: this.epochValue,
      incarnation: this.incarnationValue,
      answers: [...this.answers].map(([key, a]) => ({ key, ...a })),
    };
    writeFileAtomic(this.path, JSON.stringify(file) + "\n");
  }
}
