// The outbound half of the connection to one peer: a long-lived client stream
// that carries RaftMessageBatch frames. Messages sent in the same turn of the
// event loop go out as one frame (grpc-js pays per frame, not per byte), the
// queue is bounded, and a broken stream is reopened after a backoff.
//
// Raft tolerates lost messages (it retransmits), so a full queue or a broken
// stream drops messages rather than blocking the caller.
import type { ClientWritableStream } from "@grpc/grpc-js";
import {
  type RaftMessage,
  type RaftMessageBatch,
  type RaftPeerServiceClient,
  type StreamAck,
} from "../../gen/halon/v1/raft.js";
import { Backoff, type BackoffPolicy } from "../../util/backoff.js";

export interface PeerStreamOptions {
  peerId: string;
  client: RaftPeerServiceClient;
  /** Upper bound of one frame; a larger backlog goes out in several frames. */
  maxFrameBytes: number;
  /** Messages waiting beyond this are dropped (oldest first). */
  maxQueuedMessages: number;
  backoff: BackoffPolicy;
  /** A stream broke or messages were dropped: the core should treat the peer as unreachable for now. */
  onUnreachable: (peerId: string, reason: string) => void;
}

/** A stream that lived this long was healthy: the next failure starts the backoff afresh. */
const HEALTHY_AFTER_MS = 2_000;

export class PeerStream {
  private queue: RaftMessage[] = [];
  private call: ClientWritableStream<RaftMessageBatch> | null = null;
  private openedAt = 0;
  private waitingForDrain = false;
  private flushScheduled = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly backoff: Backoff;
  /** Counters, for status and tests. */
  readonly stats = { framesSent: 0, messagesSent: 0, messagesDropped: 0, reconnects: 0 };

  constructor(private readonly options: PeerStreamOptions) {
    // Jittered, so that replicas that lost a peer at the same moment do not all knock on its door in step.
    this.backoff = new Backoff(options.backoff, Math.random);
  }

  send(message: RaftMessage): void {
    if (this.closed) return;
    this.queue.push(message);
    if (this.queue.length > this.options.maxQueuedMessages) {
      const dropped = this.queue.length - this.options.maxQueuedMessages;
      this.queue.splice(0, dropped);
      this.stats.messagesDropped += dropped;
      this.options.onUnreachable(this.options.peerId, "send queue full");
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // Everything the driver sends in this turn rides in one frame.
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const call = this.call;
    this.call = null;
    call?.end();
    this.options.client.close();
  }

  private flush(): void {
    if (this.closed || this.queue.length === 0 || this.waitingForDrain || this.reconnectTimer) return;
    const call = this.call ?? this.open();
    while (this.queue.length > 0) {
      const frame = this.takeFrame();
      this.stats.framesSent++;
      this.stats.messagesSent += frame.messages.length;
      if (!call.write(frame)) {
        this.waitingForDrain = true;
        call.once("drain", () => {
          this.waitingForDrain = false;
          this.flush();
        });
        return;
      }
    }
  }

  /** Takes messages off the queue up to maxFrameBytes (at least one, however large). */
  private takeFrame(): RaftMessageBatch {
    let bytes = 0;
    let count = 0;
    for (const message of this.queue) {
      const size = approximateSize(message);
      if (count > 0 && bytes + size > this.options.maxFrameBytes) break;
      bytes += size;
      count++;
    }
    return { messages: this.queue.splice(0, count) };
  }

  private open(): ClientWritableStream<RaftMessageBatch> {
    this.openedAt = Date.now();
    const call = this.options.client.stream((err: Error | null, _ack?: StreamAck) => {
      if (this.call !== call) return; // an old call, already replaced or closed
      this.call = null;
      this.waitingForDrain = false;
      if (this.closed) return;
      this.broken(err ? err.message : "peer ended the stream");
    });
    this.call = call;
    // Errors arrive through the callback too; this listener only keeps them from being thrown.
    call.on("error", () => undefined);
    return call;
  }

  private broken(reason: string): void {
    if (Date.now() - this.openedAt > HEALTHY_AFTER_MS) this.backoff.reset();
    this.stats.messagesDropped += this.queue.length;
    this.queue = [];
    this.options.onUnreachable(this.options.peerId, reason);
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.stats.reconnects++;
      this.flush();
    }, delay);
    this.reconnectTimer.unref();
  }
}

/** Close enough for framing: entry payloads dominate. */
function approximateSize(message: RaftMessage): number {
  let size = 64 + message.context.length;
  for (const entry of message.entries) size += 24 + entry.data.length;
  return size;
}
