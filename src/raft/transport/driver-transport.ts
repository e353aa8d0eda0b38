// The driver's Transport (src/raft/driver/interfaces.ts) over GrpcTransport:
// core messages go out through the codec, snapshots through InstallSnapshot,
// and everything that arrives reaches the node's receiver as core messages.
import type { Message } from "../core/messages.js";
import type { Transport } from "../driver/interfaces.js";
import { GrpcTransport, type GrpcTransportOptions, type ReceivedSnapshot } from "./grpc-transport.js";
import { fromWire, snapshotFromWire, snapshotMetaToWire, toWire } from "./message-codec.js";

export type RaftGrpcTransportOptions = Omit<GrpcTransportOptions, "onMessages" | "onSnapshot"> & {
  /** Told about a malformed message or snapshot from a peer, which is dropped. */
  onBadMessage?: (reason: string) => void;
};

export class RaftGrpcTransport implements Transport {
  readonly grpc: GrpcTransport;
  private receiver: ((message: Message) => void) | null = null;

  constructor(private readonly options: RaftGrpcTransportOptions) {
    this.grpc = new GrpcTransport({
      ...options,
      onMessages: (messages) => {
        for (const wire of messages) {
          let message: Message;
          try {
            message = fromWire(wire);
          } catch (err) {
            this.options.onBadMessage?.(`from ${wire.from}: ${String(err)}`);
            continue;
          }
          this.receiver?.(message);
        }
      },
      onSnapshot: (snapshot) => this.receiveSnapshot(snapshot),
    });
  }

  listen(receiver: (message: Message) => void): void {
    this.receiver = receiver;
  }

  send(messages: Message[]): void {
    this.grpc.send(messages.map(toWire));
  }

  async sendSnapshot(message: Message): Promise<void> {
    const snapshot = message.snapshot;
    if (!snapshot) throw new Error("sendSnapshot needs a message that carries a snapshot");
    const answer = await this.grpc.sendSnapshot(
      message.to,
      toWire(message),
      snapshotMetaToWire(snapshot),
      snapshot.data,
    );
    if (!answer.accepted)
      throw new Error(`${message.to} refused the snapshot: ${answer.error || "no reason given"}`);
  }

  setPeers(peers: Record<string, string>): void {
    this.grpc.setPeers(peers);
  }

  close(): void {
    this.grpc.close();
  }

  private receiveSnapshot(
    received: ReceivedSnapshot,
  ): Promise<{ term: number; accepted: boolean; error?: string }> {
    let message: Message;
    try {
      message = fromWire(received.header, snapshotFromWire(received.meta, received.data));
    } catch (err) {
      this.options.onBadMessage?.(`snapshot from ${received.header.from}: ${String(err)}`);
      return Promise.resolve({ term: received.header.term, accepted: false, error: String(err) });
    }
    if (!this.receiver) return Promise.resolve({ term: 0, accepted: false, error: "replica is not started" });
    this.receiver(message);
    return Promise.resolve({ term: received.header.term, accepted: true });
  }
}
