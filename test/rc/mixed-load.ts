// A seeded stream of realistic, mixed events against a running cluster. Shares:
// heartbeats 65%, process failed 8% (some stale), process started 8%, local
// restarts 3%, command answers 10%, node silent 0.5%, striping errors and disk
// replacements 0.05% each, epoch requests 0.4%, unknown events 1%,
// resubmissions of recent events 3.5%, node joins 0.5%. Shared by the memory
// test and the benchmark.
import type { Event } from "../../src/gen/halon/v1/events.js";
import type { RcStateMachine } from "../../src/rc/state-machine.js";

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface MixShape {
  hosts: number;
  processesPerNode: number;
  disksPerHost: number;
  pools: number;
}

/**
 * Yields events one by one; reads the state machine (pending commands, process
 * instances) so that answers and failures look like a real cluster's.
 */
export class MixedLoad {
  private seq = 0;
  private readonly recent: Event[] = [];
  private readonly rand: () => number;

  constructor(
    private readonly sm: RcStateMachine,
    private readonly shape: MixShape,
    seed: number,
  ) {
    this.rand = prng(seed);
  }

  next(): Event {
    const r = this.rand();
    const id = `m${++this.seq}`;
    const host = Math.floor(this.rand() * this.shape.hosts);
    const node = `node-${host}`;
    let ev: Event;
    if (r < 0.65) ev = { id, source: node, nodeHeartbeat: { nodeId: node, epoch: this.sm.epoch } };
    else if (r < 0.73) {
      const pid = `proc-${host}-${Math.floor(this.rand() * this.shape.processesPerNode)}`;
      const instance = Math.max(1, (this.sm.graph.attr(pid, "instance") as number | undefined) ?? 1);
      ev = { id, source: node, processFailed: { processId: pid, instance, reason: "exit 1" } };
    } else if (r < 0.81) {
      const pid = `proc-${host}-${Math.floor(this.rand() * this.shape.processesPerNode)}`;
      const instance = Math.max(1, (this.sm.graph.attr(pid, "instance") as number | undefined) ?? 1);
      ev = { id, source: node, processStarted: { processId: pid, instance } };
    } else if (r < 0.84) {
      const pid = `proc-${host}-${Math.floor(this.rand() * this.shape.processesPerNode)}`;
      const instance = ((this.sm.graph.attr(pid, "instance") as number | undefined) ?? 0) + 1;
      ev = { id, source: node, processLocalRestart: { processId: pid, instance, reason: "crash" } };
    } else if (r < 0.94) {
      const pending = this.sm.pendingCommands();
      const c = pending[Math.floor(this.rand() * Math.min(pending.length, 50))];
      const awaiting = c?.target === "*" ? this.sm.nodesAwaitingEpoch() : [];
      const answering =
        c?.target === "*" ? (awaiting[Math.floor(this.rand() * awaiting.length)] ?? node) : "";
      ev = c
        ? {
            id,
            source: c.target,
            commandResult: { commandId: c.id, ok: this.rand() < 0.9, detail: "", nodeId: answering },
          }
        : { id, source: node, nodeHeartbeat: { nodeId: node, epoch: 0 } };
    } else if (r < 0.945) ev = { id, source: "leader", nodeSilent: { nodeId: node } };
    else if (r < 0.9455) {
      const disk = `disk-${host}-${Math.floor(this.rand() * this.shape.disksPerHost)}`;
      ev = {
        id,
        source: "client",
        stripingError: { poolId: `pool-${host % this.shape.pools}`, diskId: disk },
      };
    } else if (r < 0.946) {
      const disk = `disk-${host}-${Math.floor(this.rand() * this.shape.disksPerHost)}`;
      ev = { id, source: "operator", diskReplaced: { diskId: disk, serial: `R${this.seq}` } };
    } else if (r < 0.95) ev = { id, source: node, epochRequest: { nodeId: node } };
    else if (r < 0.96) ev = { id, source: node, opaque: { type: "temperature", payload: Buffer.alloc(0) } };
    else if (r < 0.995 && this.recent.length > 0)
      ev = this.recent[Math.floor(this.rand() * this.recent.length)] as Event; // a resubmission
    else
      ev = { id, source: node, nodeJoined: { nodeId: node, hostId: `host-${host}`, address: "", epoch: 0 } };
    this.recent.push(ev);
    if (this.recent.length > 64) this.recent.shift();
    return ev;
  }
}
