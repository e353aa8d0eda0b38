// Delivers the leader's due commands to node services over the NodeService
// API (proto/halon/v1/node.proto) and hands each answer back to be proposed
// as a CommandResult event. An address that does not answer is retried with
// exponential backoff; a delivery already answered is not sent again until
// its result has been applied or its proposal failed. Leader-local state only.
//
// Fencing, on this side: every send first asks whether this replica still
// leads in the term it delivers for (not once per turn: a leader paused and
// resumed must not send a single command from a term that is over). The node
// service checks the term too, and refuses a term older than one it has seen.
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { Command } from "../gen/halon/v1/events.js";
import { NodeServiceClient, type ExecuteCommandResponse } from "../gen/halon/v1/node.js";
import type { Logger } from "../log/logger.js";
import type { Delivery } from "../rc/index.js";
import { secureChannel, type CheckServerIdentityCallback, type TlsSource } from "../raft/transport/tls.js";
import { backoffDelay } from "../util/backoff.js";

export interface DispatcherConfig {
  /** How long a node service may take to carry out one command. */
  callTimeoutMs: number;
  /** First and largest delay before an unreachable address is tried again. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export const DEFAULT_DISPATCHER_CONFIG: DispatcherConfig = {
  callTimeoutMs: 30_000,
  backoffBaseMs: 200,
  backoffMaxMs: 10_000,
};

export interface DispatcherOptions {
  config: DispatcherConfig;
  tls?: TlsSource;
  logger: Logger;
  /** The address to deliver to, or null when there is none (logged once per target). */
  resolve: (delivery: Delivery) => string | null;
  /** Who delivers, and in which term: the node service refuses a term older than one it has seen. */
  leader: () => { id: string; term: number };
  /** Whether this replica still leads in `term`; asked before every send. */
  stillLeading: (term: number) => boolean;
  /** Checks that the server reached for a node is that node service (mutual TLS). */
  verifyNode?: (nodeId: string) => CheckServerIdentityCallback;
  /**
   * The node service answered: propose the result. Resolves when the result
   * is applied; a rejection makes the delivery due again.
   */
  onAnswer: (delivery: Delivery, answer: ExecuteCommandResponse) => Promise<void>;
  /** Some node service answered (a sign of life for the failure detector). */
  onReached?: (target: string) => void;
}

interface AddressBackoff {
  /** Failed tries in a row. */
  attempt: number;
  until: number;
}

const key = (d: Delivery) => `${d.command.id}@${d.to}`;

export class CommandDispatcher {
  private readonly clients = new Map<string, NodeServiceClient>();
  private readonly inFlight = new Set<string>();
  /** Answered; the answer's proposal is under way or done. */
  private readonly answered = new Set<string>();
  private readonly backoff = new Map<string, AddressBackoff>();
  private readonly noAddress = new Set<string>();
  /** Bumped on every reset, so that answers of a former term are dropped. */
  private generation = 0;

  constructor(private readonly opts: DispatcherOptions) {}

  /** A new term or lost leadership: forget everything leader-local. */
  reset(): void {
    this.generation++;
    this.inFlight.clear();
    this.answered.clear();
    this.backoff.clear();
  }

  /** Forgets deliveries of commands that are no longer pending. */
  prune(pending: Command[]): void {
    const ids = new Set(pending.map((c) => c.id));
    for (const k of this.answered) if (!ids.has(k.slice(0, k.indexOf("@")))) this.answered.delete(k);
  }

  /** Starts every due delivery that is not already under way or answered. */
  deliver(due: Delivery[], now: number): void {
    for (const d of due) {
      if (!this.opts.stillLeading(this.opts.leader().term)) return;
      const k = key(d);
      if (this.inFlight.has(k) || this.answered.has(k)) continue;
      const address = this.opts.resolve(d);
      if (address === null) {
        if (!this.noAddress.has(d.to)) {
          this.noAddress.add(d.to);
          this.opts.logger.warn(
            { target: d.to, command: d.command.id },
            "no address to deliver commands for this target",
          );
        }
        continue;
      }
      const b = this.backoff.get(address);
      if (b && now < b.until) continue;
      this.send(d, address, k);
    }
  }

  close(): void {
    this.generation++;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private send(d: Delivery, address: string, k: string): void {
    const generation = this.generation;
    const leader = this.opts.leader();
    if (!this.opts.stillLeading(leader.term)) return;
    this.inFlight.add(k);
    // A node's commands go to that node service only; a host's infrastructure endpoint is not one.
    const expected = d.command.respawnNode ? null : d.to;
    this.client(address, expected).executeCommand(
      { command: d.command, target: d.to, leaderId: leader.id, term: leader.term },
      new Metadata(),
      { deadline: Date.now() + this.opts.config.callTimeoutMs },
      (err: ServiceError | null, res?: ExecuteCommandResponse) => {
        if (generation !== this.generation) return;
        this.inFlight.delete(k);
        if (err) {
          this.failed(address, d, err);
          return;
        }
        this.backoff.delete(address);
        this.opts.onReached?.(d.to);
        this.answered.add(k);
        const answer = res!;
        this.opts.onAnswer(d, answer).then(
          () => {
            if (generation !== this.generation) return;
            // Recorded. A command still pending after its answer (a broadcast the node
            // could not apply: ok false) is due again, after the plan's delay.
            this.answered.delete(k);
            if (!answer.ok) this.slowDown(address);
          },
          (e: unknown) => {
            if (generation !== this.generation) return;
            this.answered.delete(k);
            this.opts.logger.debug(
              { command: d.command.id, err: String(e) },
              "could not record a command result",
            );
          },
        );
      },
    );
  }

  private failed(address: string, d: Delivery, err: ServiceError): void {
    const unreachable = err.code === status.UNAVAILABLE || err.code === status.DEADLINE_EXCEEDED;
    const delayMs = this.slowDown(address);
    const details = { target: d.to, address, command: d.command.id, retryInMs: delayMs, err: err.details };
    if (unreachable) this.opts.logger.debug(details, "node service unreachable; will retry");
    else this.opts.logger.warn(details, "node service refused a command; will retry");
  }

  /** Doubles the address's delay (from the base, up to the maximum); returns it. */
  private slowDown(address: string): number {
    const before = this.backoff.get(address);
    const attempt = (before?.attempt ?? 0) + 1;
    const { backoffBaseMs: baseMs, backoffMaxMs: maxMs } = this.opts.config;
    const delayMs = backoffDelay({ baseMs, factor: 2, maxMs }, attempt);
    this.backoff.set(address, { attempt, until: Date.now() + delayMs });
    return delayMs;
  }

  private client(address: string, nodeId: string | null): NodeServiceClient {
    const cacheKey = `${address}|${nodeId ?? ""}`;
    let c = this.clients.get(cacheKey);
    if (!c) {
      const verify = nodeId !== null ? this.opts.verifyNode?.(nodeId) : undefined;
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
