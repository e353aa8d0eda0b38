// `halon replay`: rebuilds a replica's coordinator state offline from its
// newest snapshot and its LevelDB log, on a copy (the data directory is never
// opened for writing), up to an index; checks the state hashes the replica
// reported at the indexes it passes; and keeps the history of what it applied.
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rcConfigOf } from "../api/rc-runtime.js";
import { readReportedHashes, REPORTED_HASHES_FILE, type ReportedHash } from "../api/reported-hashes.js";
import type { ClusterConfig } from "../config/index.js";
import { History, RcStateMachine, DEFAULT_RC_CONFIG, type RcConfig } from "../rc/index.js";
import { FileSnapshotStore } from "../raft/storage/file-snapshot-store.js";
import { LevelLogStore } from "../raft/storage/level-log-store.js";

export interface ReplayOptions {
  dataDir: string;
  /** Stop after this index (default: the commit index the replica persisted). */
  to?: number;
  /** The cluster config the replica ran with (its `recovery` block shapes the state); defaults otherwise. */
  config?: ClusterConfig;
  /** Further hashes to check, "index:sha256" as `halon status --json` shows them. */
  expect?: ReportedHash[];
  /** Told about repairs the stores made on the copy, and other notes. */
  warn?: (message: string) => void;
}

export interface HashCheck extends ReportedHash {
  replayed: string;
  ok: boolean;
}

export interface ReplayResult {
  machine: RcStateMachine;
  history: History;
  snapshotIndex: number;
  /** The last index applied. */
  index: number;
  /** The commit index the replica had persisted, and the last index in its log. */
  persistedCommit: number;
  lastLogIndex: number;
  checks: HashCheck[];
  /** Reported hashes that could not be checked (before the snapshot, or after the index replayed to). */
  unchecked: ReportedHash[];
}

export class ReplayError extends Error {}

export async function replay(opts: ReplayOptions): Promise<ReplayResult> {
  const logDir = join(opts.dataDir, "log");
  const snapshotDir = join(opts.dataDir, "snapshots");
  if (!existsSync(logDir))
    throw new ReplayError(`${opts.dataDir}: no log/ directory: not a replica's data directory`);
  const warn = opts.warn ?? (() => undefined);
  // A copy: opening LevelDB writes to its directory, and the snapshot store removes leftovers.
  const copy = mkdtempSync(join(tmpdir(), "halon-replay-"));
  try {
    cpSync(logDir, join(copy, "log"), { recursive: true });
    rmSync(join(copy, "log", "LOCK"), { force: true });
    if (existsSync(snapshotDir)) cpSync(snapshotDir, join(copy, "snapshots"), { recursive: true });
    const onWarning = (message: string, details: Record<string, unknown>) =>
      warn(`${message} ${JSON.stringify(details)} (in the copy; the data directory is untouched)`);
    const logStore = new LevelLogStore({ dir: join(copy, "log"), onWarning });
    const snapshotStore = new FileSnapshotStore({ dir: join(copy, "snapshots"), onWarning });
    try {
      const persisted = await logStore.load();
      const snapshot = await snapshotStore.latest();
      return apply(opts, persisted, snapshot, warn);
    } finally {
      await logStore.close();
      await snapshotStore.close();
    }
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

function apply(
  opts: ReplayOptions,
  persisted: Awaited<ReturnType<LevelLogStore["load"]>>,
  snapshot: Awaited<ReturnType<FileSnapshotStore["latest"]>>,
  warn: (message: string) => void,
): ReplayResult {
  const rcConfig: RcConfig = opts.config ? rcConfigOf(opts.config) : DEFAULT_RC_CONFIG;
  const history = new History();
  const machine = new RcStateMachine({ config: rcConfig, onTrace: (t) => history.record(t) });
  const snapshotIndex = snapshot?.meta.index ?? 0;
  if (snapshot) {
    machine.restore(snapshot.data);
    history.reset(snapshotIndex);
  }
  if (persisted.compactedIndex > snapshotIndex)
    throw new ReplayError(
      `the log starts after index ${persisted.compactedIndex} but the newest snapshot covers only ${snapshotIndex}: entries in between are gone`,
    );
  const lastLogIndex = persisted.entries.at(-1)?.index ?? persisted.compactedIndex;
  const persistedCommit = persisted.hardState?.commit ?? 0;
  const to = opts.to ?? Math.max(persistedCommit, snapshotIndex);
  if (to < snapshotIndex)
    throw new ReplayError(
      `index ${to} is before the newest snapshot (index ${snapshotIndex}): the oldest state kept`,
    );
  if (to > lastLogIndex)
    throw new ReplayError(`index ${to} is past the end of the log (index ${lastLogIndex})`);
  if (to > persistedCommit)
    warn(
      `entries after ${persistedCommit} (the commit index the replica persisted) may not have been committed`,
    );

  const reported = [...readReportedHashes(join(opts.dataDir, REPORTED_HASHES_FILE)), ...(opts.expect ?? [])];
  const wanted = new Map<number, ReportedHash[]>();
  const unchecked: ReportedHash[] = [];
  for (const r of reported) {
    if (r.index < snapshotIndex || r.index > to) unchecked.push(r);
    else wanted.set(r.index, [...(wanted.get(r.index) ?? []), r]);
  }
  const checks: HashCheck[] = [];
  const check = (index: number) => {
    for (const r of wanted.get(index) ?? []) {
      const replayed = machine.summary().hash;
      checks.push({ ...r, replayed, ok: replayed === r.hash });
    }
  };
  check(snapshotIndex);
  for (const entry of persisted.entries) {
    if (entry.index <= snapshotIndex) continue;
    if (entry.index > to) break;
    machine.apply(entry);
    check(entry.index);
  }
  return {
    machine,
    history,
    snapshotIndex,
    index: machine.lastApplied,
    persistedCommit,
    lastLogIndex,
    checks,
    unchecked,
  };
}
