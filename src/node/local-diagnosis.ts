// Runs the node's local rules (local-rules.ts) on a CEP engine and keeps the
// engine's state in `<dataDir>/diagnosis.json` (written atomically), so that a
// crash loop's count and a disk's recent errors survive a restart of the node
// service. The supervisor asks it what to do when a run exits; the disk probe
// feeds it probe results. Its time is the wall clock made monotonic (the
// engine refuses time going back), carried over from the snapshot.
import { renameSync } from "node:fs";
import { Engine } from "../cep/index.js";
import type { Logger } from "../log/logger.js";
import { readIfExists, writeFileAtomic } from "./atomic-file.js";
import {
  crashLoopRule,
  diskHealthRule,
  type DiskRuleConfig,
  type LocalAction,
  type LocalEvent,
  type RestartPolicyConfig,
} from "./local-rules.js";

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; recent: number };

/** What the supervisor asks when a run exits, and tells when a command started one. */
export interface RestartDecider {
  onExit(processId: string, reason: string): RestartDecision;
  onCommandedStart(processId: string): void;
}

export const DEFAULT_DISK_RULE: DiskRuleConfig = { errors: 3, withinMs: 60_000 };

export interface LocalDiagnosisOptions {
  /** The snapshot file; none: kept in memory only (tests of other parts). */
  file?: string;
  policy: RestartPolicyConfig;
  disk?: DiskRuleConfig;
  logger: Logger;
  now?: () => number;
}

type State = ReturnType<Engine<LocalEvent, LocalAction>["initialState"]>;

export class LocalDiagnosis implements RestartDecider {
  private time = 0;

  private constructor(
    private readonly engine: Engine<LocalEvent, LocalAction>,
    private state: State,
    private readonly opts: LocalDiagnosisOptions,
  ) {}

  static open(opts: LocalDiagnosisOptions): LocalDiagnosis {
    const engine = new Engine<LocalEvent, LocalAction>({
      rules: [crashLoopRule(opts.policy), diskHealthRule(opts.disk ?? DEFAULT_DISK_RULE)],
    });
    const text = opts.file === undefined ? undefined : readIfExists(opts.file);
    if (text !== undefined) {
      try {
        const saved = JSON.parse(text) as { time: unknown; engine: unknown };
        if (typeof saved.time !== "number" || !Number.isFinite(saved.time)) throw new Error("no valid time");
        // restore validates every part of the engine state (CepSnapshotError says where).
        const state = engine.restore(saved.engine);
        const d = new LocalDiagnosis(engine, state, opts);
        d.time = saved.time;
        return d;
      } catch (err) {
        // Only counts are lost (a crash loop's restarts, a disk's recent errors): start afresh,
        // keep the damaged file for a look.
        renameSync(opts.file!, `${opts.file!}.damaged`);
        opts.logger.error(
          { file: opts.file, err: err instanceof Error ? err.message : String(err) },
          "local diagnosis state damaged; starting afresh (kept as .damaged)",
        );
      }
    }
    return new LocalDiagnosis(engine, engine.initialState(), opts);
  }

  onExit(processId: string, reason: string): RestartDecision {
    const out = this.step({ kind: "process-exit", process: processId, reason });
    for (const a of out) {
      if (a.action === "restart" && a.process === processId) return { restart: true, delayMs: a.delayMs };
      if (a.action === "escalate" && a.process === processId) return { restart: false, recent: a.recent };
    }
    // The rule always answers an exit; an error output means a bug in it: hand over to the coordinator.
    return { restart: false, recent: 0 };
  }

  onCommandedStart(processId: string): void {
    this.step({ kind: "process-commanded", process: processId });
  }

  /** One probe result of a disk; returns what the rules decided (disk-failed, disk-replaced). */
  probe(disk: string, result: "ok" | "error" | "replaced", detail: string, serial = ""): LocalAction[] {
    return this.step({ kind: "disk-probe", disk, result, detail, serial }, result !== "ok");
  }

  /** The phase of a rule's instance ("watching", "escalated", "healthy", "failed"), for tests and logs. */
  phaseOf(rule: "crash-loop" | "disk-health", key: string): string | undefined {
    return this.engine.phaseOf(this.state, rule, key);
  }

  private step(event: LocalEvent, save = true): LocalAction[] {
    this.time = Math.max(this.time, (this.opts.now ?? Date.now)());
    const { state, outputs } = this.engine.step(this.state, { time: this.time, event });
    this.state = state;
    for (const o of outputs)
      if (o.kind !== "emit")
        this.opts.logger.error(
          { rule: o.rule, key: o.key, kind: o.kind, data: o.data },
          "local rule problem",
        );
    if (save && this.opts.file !== undefined) {
      try {
        writeFileAtomic(
          this.opts.file,
          JSON.stringify({ time: this.time, engine: this.engine.snapshot(this.state) }) + "\n",
        );
      } catch (err) {
        this.opts.logger.warn({ err: String(err) }, "cannot save the local diagnosis state");
      }
    }
    return outputs.filter((o) => o.kind === "emit").map((o) => o.data as LocalAction);
  }
}
