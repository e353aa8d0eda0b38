// A scenario driver: events in at virtual times, graph and commands out.
import type { Command, DeclaredHost, Event, RcApplyResult } from "../../src/gen/halon/v1/events.js";
import type { EventOutcome } from "../../src/gen/halon/v1/events.js";
import { EntryType, type Entry } from "../../src/raft/types.js";
import { DEFAULT_RC_CONFIG, type RcConfig } from "../../src/rc/config.js";
import { decodeApplyResult, encodeEventBatch, encodeTick, makeEvent } from "../../src/rc/entry.js";
import { RcStateMachine } from "../../src/rc/state-machine.js";
import type { EntryTrace } from "../../src/rc/trace.js";

export type EventBody = Omit<Partial<Event>, "id"> & { id?: string };

export const TEST_CONFIG: RcConfig = {
  ...DEFAULT_RC_CONFIG,
  processRespawnBudget: 3,
  processRespawnBackoff: { baseMs: 1_000, factor: 2, maxMs: 8_000 },
  processRespawnTimeoutMs: 10_000,
  nodeRespawnBudget: 3,
  nodeRespawnBackoff: { baseMs: 5_000, factor: 2, maxMs: 20_000 },
  dedupRetentionMs: 60_000,
};

export class Scenario {
  sm: RcStateMachine;
  index = 0;
  time = 0;
  private seq = 0;
  /** Every entry applied, to replay elsewhere. */
  readonly log: Entry[] = [];
  /** Every command issued, in order. */
  readonly issued: Command[] = [];

  /** @param onTrace told what each entry did (history and explain). */
  constructor(
    readonly config: RcConfig = TEST_CONFIG,
    onTrace?: (trace: EntryTrace) => void,
  ) {
    this.sm = new RcStateMachine({ config, onTrace });
  }

  /** Applies one batch at `time` (default: now). Events without an id get a fresh one. */
  events(bodies: EventBody[], time = this.time): RcApplyResult {
    const events = bodies.map((b) => makeEvent({ ...b, id: b.id ?? `e${++this.seq}` }));
    return this.entry(encodeEventBatch(time, events), time);
  }

  event(body: EventBody, time = this.time): RcApplyResult {
    return this.events([body], time);
  }

  tick(time: number): RcApplyResult {
    return this.entry(encodeTick(time), time);
  }

  /** Ticks every `step` ms up to `until`, so timers fire at their own times. */
  tickUntil(until: number, step = 500): Command[] {
    const before = this.issued.length;
    for (let t = this.time + step; t <= until; t += step) this.tick(t);
    return this.issued.slice(before);
  }

  entry(data: Uint8Array, time = this.time): RcApplyResult {
    this.time = Math.max(this.time, time);
    const entry: Entry = { term: 1, index: ++this.index, type: EntryType.Normal, data };
    this.log.push(entry);
    const result = decodeApplyResult(this.sm.apply(entry));
    this.issued.push(...result.commands);
    return result;
  }

  /** A node's answer to a command; `nodeId` is needed for a broadcast. */
  ack(commandId: string, ok = true, nodeId = ""): RcApplyResult {
    return this.event({ commandResult: { commandId, ok, detail: "", nodeId } });
  }

  /** Where the pending epoch transitions go: a broadcast expands to the nodes that await it. */
  epochDeliveries(): string[] {
    const targets = new Set<string>();
    for (const c of this.pending().filter((x) => x.epochTransition)) {
      if (c.target === "*") for (const n of this.sm.nodesAwaitingEpoch()) targets.add(n);
      else targets.add(c.target);
    }
    return [...targets].sort();
  }

  attr(id: string, key: string): unknown {
    return this.sm.graph.attr(id, key);
  }

  pending(): Command[] {
    return this.sm.pendingCommands();
  }
}

export function outcomeOf(r: RcApplyResult, i = 0): EventOutcome {
  return (r.events[i] as NonNullable<RcApplyResult["events"][number]>).outcome;
}

export interface TopologyOptions {
  hosts: number;
  processesPerNode?: number;
  disksPerHost?: number;
  /** Disks of host i go to pool `pool-(i % pools)`. */
  pools?: number;
}

/** host-i runs node-i; node-i runs proc-i-j providing svc-i-j; host-i has disk-i-k. */
export function declaredHosts(o: TopologyOptions): {
  hosts: DeclaredHost[];
  pools: { id: string; diskIds: string[] }[];
} {
  const hosts: DeclaredHost[] = [];
  const pools = Array.from({ length: o.pools ?? 0 }, (_, i) => ({
    id: `pool-${i}`,
    diskIds: [] as string[],
  }));
  for (let i = 0; i < o.hosts; i++) {
    const disks = Array.from({ length: o.disksPerHost ?? 0 }, (_, k) => ({
      id: `disk-${i}-${k}`,
      serial: `SN${i}${k}`,
    }));
    if (pools.length > 0)
      (pools[i % pools.length] as (typeof pools)[number]).diskIds.push(...disks.map((d) => d.id));
    hosts.push({
      id: `host-${i}`,
      rackId: `rack-${Math.floor(i / 40)}`,
      enclosureId: `enc-${Math.floor(i / 10)}`,
      address: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      infraEndpoint: `ipmi-${i}`,
      nodeId: `node-${i}`,
      disks,
      processes: Array.from({ length: o.processesPerNode ?? 0 }, (_, j) => ({
        id: `proc-${i}-${j}`,
        command: `/usr/bin/svc-${j}`,
        serviceIds: [`svc-${i}-${j}`],
      })),
    });
  }
  return { hosts, pools };
}

/** Declares the topology, joins every node and confirms every started process: a running cluster. */
export function runningCluster(s: Scenario, o: TopologyOptions): void {
  const { hosts, pools } = declaredHosts(o);
  s.event({ topologyDeclared: { clusterName: "test", hosts, pools } });
  for (let i = 0; i < o.hosts; i++)
    s.event({ nodeJoined: { nodeId: `node-${i}`, hostId: `host-${i}`, address: "", epoch: 0 } });
  const starts = s.pending().filter((c) => c.startProcesses);
  for (const c of starts) {
    s.ack(c.id);
    for (const p of c.startProcesses?.processes ?? [])
      s.event({ processStarted: { processId: p.processId, instance: p.instance } });
  }
}
