// A tiny node service for end-to-end tests: a real gRPC NodeService on
// 127.0.0.1 that records every command delivered to it, executes each one
// idempotently (by command id; an epoch not newer than its own is a no-op),
// and reports what a real node service would (ProcessStarted after a start or
// respawn) through the client API. EpochTransition answers can be held back,
// to stop a transition half way.
import { Server, status } from "@grpc/grpc-js";
import { serverCredentials, type TlsMaterial } from "../../src/raft/transport/tls.js";
import type { ClusterClient } from "../../src/api/cluster-client.js";
import type { Command, Event } from "../../src/gen/halon/v1/events.js";
import {
  NodeServiceService,
  type ExecuteCommandResponse,
  type NodeServiceServer,
} from "../../src/gen/halon/v1/node.js";

export interface Delivery {
  command: Command;
  leaderId: string;
  term: number;
}

export class NodeServiceStub {
  readonly deliveries: Delivery[] = [];
  /** Commands carried out, each once (the node's own effects). */
  readonly executed: Command[] = [];
  epoch = 0;
  private readonly done = new Set<string>();
  private heldEpochs: (() => void)[] = [];
  private holding = false;
  private readonly server = new Server();
  port = 0;

  constructor(
    readonly nodeId: string,
    private readonly client: () => ClusterClient,
  ) {
    const impl: NodeServiceServer = {
      executeCommand: (call, callback) => {
        const { command, target, leaderId, term } = call.request;
        if (!command || target !== this.nodeId) {
          callback({ code: status.INVALID_ARGUMENT, details: `not for ${this.nodeId}: ${target}` });
          return;
        }
        this.deliveries.push({ command, leaderId, term });
        const answer = this.execute(command);
        if (command.epochTransition && this.holding) {
          this.heldEpochs.push(() => callback(null, answer));
          return;
        }
        callback(null, answer);
      },
    };
    this.server.addService(NodeServiceService, impl);
  }

  /** Listens on `port` (0: any free port), with the node's certificate (none: plain TCP). */
  async start(port = 0, tls?: TlsMaterial): Promise<number> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, serverCredentials(tls), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    return this.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** EpochTransition answers wait until release(). */
  holdEpochAnswers(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    const held = this.heldEpochs;
    this.heldEpochs = [];
    for (const answer of held) answer();
  }

  /** Epoch transitions this node carried out (not the repeated deliveries). */
  epochsApplied(): number[] {
    return this.executed.filter((c) => c.epochTransition).map((c) => c.epochTransition!.epoch);
  }

  stop(): Promise<void> {
    this.release();
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  private execute(command: Command): ExecuteCommandResponse {
    if (this.done.has(command.id)) return { ok: true, detail: "already done" };
    if (command.epochTransition) {
      if (command.epochTransition.epoch <= this.epoch) return { ok: true, detail: "epoch already applied" };
      this.epoch = command.epochTransition.epoch;
    }
    this.done.add(command.id);
    this.executed.push(command);
    const started: Event[] = [];
    for (const p of command.startProcesses?.processes ?? [])
      started.push(this.startedEvent(p.processId, p.instance));
    if (command.respawnProcess)
      started.push(this.startedEvent(command.respawnProcess.processId, command.respawnProcess.instance));
    // Reported like a real node service would, after answering.
    if (started.length > 0)
      setImmediate(() => {
        this.client()
          .submitEvents(started)
          .catch(() => undefined);
      });
    return { ok: true, detail: `done by ${this.nodeId}` };
  }

  private startedEvent(processId: string, instance: number): Event {
    return {
      id: `started-${processId}-${instance}`,
      source: this.nodeId,
      processStarted: { processId, instance },
    };
  }
}
