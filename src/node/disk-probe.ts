// Probes the node's disks every intervalMs with the configured probe (a
// command per disk, or a file per disk: cluster-config `nodes[].diskProbe`)
// and feeds each result to the local diagnosis, whose disk-health rule
// decides; what it decides is handed to `act` (the node service reports it).
// One round at a time: a round that outlasts the interval delays the next.
import { spawn } from "node:child_process";
import type { DiskProbeConfig } from "../config/index.js";
import type { Logger } from "../log/logger.js";
import { readIfExists } from "./atomic-file.js";
import type { LocalDiagnosis } from "./local-diagnosis.js";
import type { LocalAction } from "./local-rules.js";

export interface ProbeResult {
  result: "ok" | "error" | "replaced";
  detail: string;
  serial: string;
}

/** Reads a probe's words: ok, error <detail>, replaced <serial>, repaired; undefined for anything else. */
export function parseProbeText(text: string): ProbeResult | undefined {
  const [word = "", ...rest] = text.trim().split(/\s+/);
  const tail = rest.join(" ");
  switch (word.toLowerCase()) {
    case "ok":
    case "":
      return { result: "ok", detail: tail, serial: "" };
    case "error":
      return { result: "error", detail: tail || "error", serial: "" };
    case "replaced":
      return { result: "replaced", detail: tail, serial: rest[0] ?? "" };
    case "repaired":
      return { result: "replaced", detail: "repaired", serial: "" };
    default:
      return undefined;
  }
}

export function probeDisk(cfg: DiskProbeConfig, disk: string): Promise<ProbeResult | undefined> {
  if (cfg.file !== undefined) {
    let text: string | undefined;
    try {
      text = readIfExists(cfg.file.replaceAll("{disk}", disk));
    } catch (err) {
      return Promise.resolve({
        result: "error",
        detail: `cannot read the probe file: ${String(err)}`,
        serial: "",
      });
    }
    // No file: nothing to report, the disk is taken as healthy.
    return Promise.resolve(
      text === undefined ? { result: "ok", detail: "", serial: "" } : parseProbeText(text),
    );
  }
  const command = cfg.command!;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(
        command,
        cfg.args.map((a) => a.replaceAll("{disk}", disk)),
        {
          stdio: ["ignore", "pipe", "pipe"],
          detached: true,
        },
      );
    } catch (err) {
      resolve({ result: "error", detail: `cannot run ${command}: ${(err as Error).message}`, serial: "" });
      return;
    }
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out = (out + b.toString("utf8")).slice(-1_000)));
    child.stderr.on("data", (b: Buffer) => (err = (err + b.toString("utf8")).slice(-1_000)));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, cfg.timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      resolve({ result: "error", detail: `cannot run ${command}: ${e.message}`, serial: "" });
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(parseProbeText(out) ?? { result: "ok", detail: out.trim(), serial: "" });
      else
        resolve({
          result: "error",
          detail:
            `${command} ${signal ? `killed by ${signal}` : `exited with code ${code}`}: ${(err || out).trim()}`.trim(),
          serial: "",
        });
    });
  });
}

export class DiskProber {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly cfg: DiskProbeConfig,
    private readonly disks: string[],
    private readonly diagnosis: LocalDiagnosis,
    private readonly act: (action: LocalAction) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One round over every disk (exposed for tests). */
  async round(): Promise<void> {
    for (const disk of this.disks) {
      if (this.stopped) return;
      const r = await probeDisk(this.cfg, disk);
      if (r === undefined) {
        this.logger.warn(
          { disk },
          "the disk probe said something other than ok, error, replaced or repaired",
        );
        continue;
      }
      if (r.result !== "ok") this.logger.warn({ disk, ...r }, "disk probe");
      for (const action of this.diagnosis.probe(disk, r.result, r.detail, r.serial)) this.act(action);
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round().then(() => this.schedule(this.cfg.intervalMs));
    }, delayMs);
  }
}
