// Sends the node service's events to the coordinator, in order, through the
// client library. Every event gets its id once, when it happens
// ("<node>.<incarnation>.<seq>.<kind>"): a batch that fails is sent again with
// the same ids, so the coordinator applies each occurrence once (it answers a
// resubmission DUPLICATE). The incarnation tells a restarted node service's
// events apart from its former run's, which the coordinator still remembers.
import type { SubmitEventsResponse } from "../gen/halon/v1/client.js";
import { EventOutcome, type Event } from "../gen/halon/v1/events.js";
import type { Logger } from "../log/logger.js";
import { backoffDelay } from "../util/backoff.js";

/** What the reporter needs of ClusterClient. */
export interface EventSink {
  submitEvents(events: Event[]): Promise<SubmitEventsResponse>;
}

export interface EventReporterOptions {
  nodeId: string;
  /** Unique per run of the node service. */
  incarnation: string;
  sink: EventSink;
  logger: Logger;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Most events in one SubmitEvents call (the coordinator takes up to 1,000). */
  batchMax?: number;
}

/** An event body: everything but the id and source, which the reporter sets. */
export type EventBody = Omit<Event, "id" | "source">;

export class EventReporter {
  private readonly queue: Event[] = [];
  private seq = 0;
  private sending = false;
  private stopped = false;
  /** Failed sends in a row. */
  private retries = 0;
  private retryDelayMs = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Ids the coordinator applied (or deduplicated), for tests and the log. */
  delivered = 0;

  constructor(private readonly opts: EventReporterOptions) {}

  /** Queues one occurrence; returns its id. */
  report(kind: string, body: EventBody): string {
    const id = `${this.opts.nodeId}.${this.opts.incarnation}.${++this.seq}.${kind}`;
    this.queue.push({ ...body, id, source: this.opts.nodeId });
    this.pump();
    return id;
  }

  /** A heartbeat, unless one is still waiting to go: a backlog of them says nothing more than one. */
  heartbeat(epoch: number): void {
    if (this.queue.some((e) => e.nodeHeartbeat !== undefined)) return;
    this.report("heartbeat", { nodeHeartbeat: { nodeId: this.opts.nodeId, epoch } });
  }

  pending(): number {
    return this.queue.length;
  }

  /** Resolves when the queue is empty, or after timeoutMs. */
  drain(timeoutMs: number): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.wakeIdle();
  }

  private pump(): void {
    if (this.sending || this.stopped || this.retryTimer !== null) return;
    if (this.queue.length === 0) {
      this.wakeIdle();
      return;
    }
    const batch = this.queue.slice(0, this.opts.batchMax ?? 100);
    this.sending = true;
    this.opts.sink.submitEvents(batch).then(
      (res) => {
        this.sending = false;
        this.retries = 0;
        this.retryDelayMs = 0;
        this.queue.splice(0, batch.length);
        this.delivered += batch.length;
        this.record(batch, res);
        this.pump();
      },
      (err: unknown) => {
        this.sending = false;
        // Same events, same ids, after a while: whatever reached the log is answered DUPLICATE.
        const policy = {
          baseMs: this.opts.retryBaseMs ?? 200,
          factor: 2,
          maxMs: this.opts.retryMaxMs ?? 5_000,
        };
        this.retryDelayMs = backoffDelay(policy, ++this.retries);
        this.opts.logger.warn(
          { events: batch.length, retryInMs: this.retryDelayMs, err: errorText(err) },
          "could not report events to the coordinator; will resend them",
        );
        if (this.stopped) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, this.retryDelayMs);
      },
    );
  }

  private record(batch: Event[], res: SubmitEventsResponse): void {
    for (const r of res.results) {
      if (r.outcome === EventOutcome.EVENT_OUTCOME_REJECTED) {
        // A refusal will not change on resending: log it and move on.
        this.opts.logger.error(
          { event: r.eventId, code: r.code, reason: r.reason },
          "the coordinator rejected an event",
        );
      } else if (r.outcome === EventOutcome.EVENT_OUTCOME_IGNORED_STALE) {
        this.opts.logger.info({ event: r.eventId, reason: r.reason }, "the coordinator found an event stale");
      }
    }
    const kinds = batch.filter((e) => e.nodeHeartbeat === undefined).map((e) => e.id);
    if (kinds.length > 0) this.opts.logger.debug({ events: kinds, index: res.index }, "events reported");
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function errorText(err: unknown): string {
  if (err && typeof err === "object" && "details" in err && typeof err.details === "string" && err.details)
    return err.details;
  return err instanceof Error ? err.message : String(err);
}
