// Events one at a time for the caller, several per SubmitEvents call on the
// wire: an event submitted while a call is in flight waits for it to end and
// then goes with every other event that waited (up to maxBatch), so a busy
// sender gets batches without a timer adding latency to a lone event (natural
// batching). With one call in flight at a time (the default) events enter the
// log in the order they were submitted.
import type { SubmitEventsResponse } from "../gen/halon/v1/client.js";
import type { Command, Event, EventResult } from "../gen/halon/v1/events.js";

export interface EventSubmitter {
  submitEvents(events: Event[]): Promise<SubmitEventsResponse>;
}

/** One event's answer: its outcome, and the entry that carried its batch. */
export interface SubmittedEvent {
  result: EventResult;
  index: number;
  term: number;
  /** Commands the whole batch decided (shared by the batch's events). */
  commands: Command[];
}

export interface EventBatcherOptions {
  /** Most events in one call (the coordinator takes up to 1,000). Default 100. */
  maxBatch?: number;
  /** Calls in flight at once. Default 1, which keeps events in submission order. */
  maxInFlight?: number;
}

interface Waiting {
  event: Event;
  resolve: (r: SubmittedEvent) => void;
  reject: (err: unknown) => void;
}

export class EventBatcher {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly sink: EventSubmitter,
    options: EventBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 100;
    this.maxInFlight = options.maxInFlight ?? 1;
    if (!(this.maxBatch >= 1 && this.maxInFlight >= 1))
      throw new Error("maxBatch and maxInFlight must be at least 1");
  }

  /**
   * Submits one event; resolves with its outcome once its batch is applied.
   * A failed call rejects every event of its batch: resubmit them (same ids).
   */
  submit(event: Event): Promise<SubmittedEvent> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.pump();
    });
  }

  /** Events waiting for a call. */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = batch === this.queue ? [] : this.queue.slice(this.maxBatch);
      this.inFlight++;
      this.sink.submitEvents(batch.map((w) => w.event)).then(
        (res) => {
          this.inFlight--;
          batch.forEach((w, i) => {
            const result = res.results[i];
            if (result === undefined) w.reject(new Error(`no result for event ${w.event.id} in the answer`));
            else w.resolve({ result, index: res.index, term: res.term, commands: res.commands });
          });
          this.pump();
        },
        (err: unknown) => {
          this.inFlight--;
          for (const w of batch) w.reject(err);
          this.pump();
        },
      );
    }
  }
}
