// Splitting a snapshot into InstallSnapshot chunks and putting it back
// together, with every check the receiver needs before it trusts the bytes.
import type { RaftMessage, SnapshotChunk, SnapshotMeta } from "../../gen/halon/v1/raft.js";
import { crc32c } from "../storage/crc32c.js";

export class SnapshotTransferError extends Error {
  constructor(
    /** A gRPC status name for the caller to answer with. */
    readonly kind: "INVALID_ARGUMENT" | "RESOURCE_EXHAUSTED" | "DATA_LOSS",
    message: string,
  ) {
    super(message);
    this.name = "SnapshotTransferError";
  }
}

/** Yields chunks of at most chunkBytes of payload; the first carries the header message and meta. */
export function* chunkSnapshot(
  header: RaftMessage,
  meta: Omit<SnapshotMeta, "size" | "checksum">,
  data: Uint8Array,
  chunkBytes: number,
): Generator<SnapshotChunk> {
  const fullMeta: SnapshotMeta = { ...meta, size: data.length, checksum: crc32c(data) };
  let offset = 0;
  do {
    const end = Math.min(data.length, offset + chunkBytes);
    yield {
      header: offset === 0 ? header : undefined,
      meta: offset === 0 ? fullMeta : undefined,
      offset,
      // A view, not a copy: the sender holds the payload once.
      data: Buffer.from(data.buffer, data.byteOffset + offset, end - offset),
      last: end === data.length,
    };
    offset = end;
  } while (offset < data.length);
}

/**
 * Receives chunks in order. The announced size is checked against the limit
 * before anything is kept, and memory grows only with the bytes that actually
 * arrive (chunk by chunk, never the announced size up front): a peer that
 * announces a large snapshot and sends little costs little.
 */
export class SnapshotAssembler {
  private header: RaftMessage | null = null;
  private meta: SnapshotMeta | null = null;
  private readonly chunks: Uint8Array[] = [];
  private received = 0;
  private crc = 0;
  private done = false;
  private data: Uint8Array | null = null;

  constructor(private readonly maxBytes: number) {}

  /** Bytes held so far. */
  get bytesHeld(): number {
    return this.received;
  }

  /** Adds a chunk; returns true once the last chunk has arrived and verified. */
  add(chunk: SnapshotChunk): boolean {
    if (this.done) throw new SnapshotTransferError("INVALID_ARGUMENT", "chunk after the last one");
    if (this.meta === null) {
      if (!chunk.header || !chunk.meta) {
        throw new SnapshotTransferError("INVALID_ARGUMENT", "the first chunk must carry the header and meta");
      }
      if (chunk.meta.size > this.maxBytes) {
        throw new SnapshotTransferError(
          "RESOURCE_EXHAUSTED",
          `snapshot of ${chunk.meta.size} bytes is over the limit of ${this.maxBytes}`,
        );
      }
      this.header = chunk.header;
      this.meta = chunk.meta;
    }
    const size = this.meta.size;
    if (chunk.offset !== this.received) {
      throw new SnapshotTransferError(
        "INVALID_ARGUMENT",
        `chunk at offset ${chunk.offset}, expected ${this.received}`,
      );
    }
    if (this.received + chunk.data.length > size) {
      throw new SnapshotTransferError("INVALID_ARGUMENT", `chunks exceed the announced size ${size}`);
    }
    // A copy: grpc-js may reuse nothing, but the chunk's view must not pin a larger frame.
    this.chunks.push(Uint8Array.prototype.slice.call(chunk.data));
    this.crc = crc32c(chunk.data, this.crc);
    this.received += chunk.data.length;
    if (!chunk.last) return false;
    this.done = true;
    if (this.received !== size) {
      throw new SnapshotTransferError("DATA_LOSS", `got ${this.received} of ${size} bytes`);
    }
    if (this.crc !== this.meta.checksum) {
      throw new SnapshotTransferError("DATA_LOSS", "snapshot checksum mismatch");
    }
    this.data = Buffer.concat(this.chunks);
    this.chunks.length = 0;
    return true;
  }

  result(): { header: RaftMessage; meta: SnapshotMeta; data: Uint8Array } {
    if (!this.done || !this.header || !this.meta || !this.data) throw new Error("snapshot is not complete");
    return { header: this.header, meta: this.meta, data: this.data };
  }
}
