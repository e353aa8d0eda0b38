// Carries out the leader loop's deliver effects (src/rc/leader/leader-loop.ts)
// over the NodeService API (proto/halon/v1/node.proto): one ExecuteCommand
// call per effect, and exactly one outcome for it, a failure at the latest
// when the call's deadline passes. When to send, redeliver and back off is
// the loop's business; this file only talks gRPC.
//
// Fencing, on this side: every send first asks whether this replica still
// leads in the term it delivers for (a leader paused and resumed must not send
// a single command from a term that is over). The node service checks the
// term too, and refuses a term older than one it has seen.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { Command } from "../gen/halon/v1/events.js";
import { NodeServiceClient, type ExecuteCommandResponse } from "../gen/halon/v1/node.js";
import type { Logger } from "../log/logger.js";
import type { DeliveryOutcome } from "../rc/index.js";
import { secureChannel, type CheckServerIdentityCallback, type TlsSource } from "../raft/transport/tls.js";

export interface DispatcherConfig {
  /** How long a node service may take to carry out one command. */
  callTimeoutMs: number;
}

export const DEFAULT_DISPATCHER_CONFIG: DispatcherConfig = {
  callTimeoutMs: 30_000,
};

/** One delivery: the loop's deliver effect. */
export interface Delivery {
  to: string;
  command: Command;
  term: number;
  leaderId: string;
}

export interface DispatcherOptions {
  config: DispatcherConfig;
  tls?: TlsSource;
  logger: Logger;
  /** The address to deliver to, or null when there is none (logged once per target). */
  resolve: (delivery: Delivery) => string | null;
  /** Whether this replica still leads in `term`; asked before every send. */
  stillLeading: (term: number) => boolean;
  /** Checks that the server reached for a node is that node service (mutual TLS). */
  verifyNode?: (nodeId: string) => CheckServerIdentityCallback;
  /**
   * Carries out a RespawnNode through the host's infrastructure provider
   * (src/api/infra); it answers, never throws. Without it such commands fail.
   */
  respawnNode?: (d: Delivery) => Promise<{ ok: boolean; detail: string }>;
}

export class CommandDispatcher {
  private readonly clients = new Map<string, NodeServiceClient>();
  private readonly noAddress = new Set<string>();
  private closed = false;

  constructor(private readonly opts: DispatcherOptions) {}

  /** Sends `d`; `done` is called once with the answer or why there is none (never after close()). */
  send(d: Delivery, done: (outcome: DeliveryOutcome, response?: ExecuteCommandResponse) => void): void {
    const finish = (outcome: DeliveryOutcome, response?: ExecuteCommandResponse) => {
      if (!this.closed) done(outcome, response);
    };
    if (!this.opts.stillLeading(d.term)) {
      queueMicrotask(() => finish({ ok: false, error: `no longer the leader in term ${d.term}` }));
      return;
    }
    if (d.command.respawnNode) {
      this.respawnNode(d, finish);
      return;
    }
    const address = this.opts.resolve(d);
    if (address === null) {
      if (!this.noAddress.has(d.to)) {
        this.noAddress.add(d.to);
        this.opts.logger.warn(
          { target: d.to, command: d.command.id },
          "no address to deliver commands for this target",
        );
      }
      queueMicrotask(() => finish({ ok: false, error: `no address for ${d.to}` }));
      return;
    }
    this.client(address, d.to).executeCommand(
      { command: d.command, target: d.to, leaderId: d.leaderId, term: d.term },
      new Metadata(),
      { deadline: Date.now() + this.opts.config.callTimeoutMs },
      (err: ServiceError | null, res?: ExecuteCommandResponse) => {
        if (err) {
          const unreachable = err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED;
          const details = { target: d.to, address, command: d.command.id, err: err.details };
          if (unreachable) this.opts.logger.debug(details, "node service unreachable; will retry");
          else this.opts.logger.warn(details, "node service refused a command; will retry");
          finish({ ok: false, error: err.details || String(err.code) });
          return;
        }
        finish({ ok: true, answer: { ok: res!.ok, detail: res!.detail } }, res);
      },
    );
  }

  /** A RespawnNode goes to the host's provider, bounded by the same call timeout as a node's command. */
  private respawnNode(d: Delivery, finish: (outcome: DeliveryOutcome) => void): void {
    const provider = this.opts.respawnNode;
    if (!provider) {
      queueMicrotask(() => finish({ ok: false, error: "no infrastructure provider for RespawnNode" }));
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `the infrastructure provider did not answer within ${this.opts.config.callTimeoutMs} ms`,
            ),
          ),
        this.opts.config.callTimeoutMs,
      );
    });
    Promise.race([provider(d), timeout])
      .then(
        (answer) => {
          if (!answer.ok)
            this.opts.logger.warn(
              { target: d.to, command: d.command.id, detail: answer.detail },
              "infrastructure provider could not respawn the node",
            );
          finish({ ok: true, answer: { ok: answer.ok, detail: answer.detail } });
        },
        (err: unknown) => finish({ ok: false, error: err instanceof Error ? err.message : String(err) }),
      )
      .finally(() => clearTimeout(timer));
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(address: string, nodeId: string): NodeServiceClient {
    const cacheKey = `${address}|${nodeId}`;
    let c = this.clients.get(cacheKey);
    if (!c) {
      const verify = this.opts.verifyNode?.(nodeId);
      const secure = secureChannel(this.opts.tls, address, verify);
      c = new NodeServiceClient(address, secure.credentials, {
        ...secure.options,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 2_000,
      });
      this.clients.set(cacheKey, c);
    }
    return c;
  }
}
