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

/** Receives chunks in order into one buffer of the announced size; memory is that size, no more. */
export class SnapshotAssembler {
  private header: RaftMessage | null = null;
  private meta: SnapshotMeta | null = null;
  private buffer: Uint8Array | null = null;
  private received = 0;
  private crc = 0;
  private done = false;

  constructor(private readonly maxBytes: number) {}

  /** Adds a chunk; returns true once the last chunk has arrived and verified. */
  add(chunk: SnapshotChunk): boolean {
    if (this.done) throw new SnapshotTransferError("INVALID_ARGUMENT", "chunk after the last one");
    if (this.buffer === null) {
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
      this.buffer = new Uint8Array(chunk.meta.size);
    }
    if (chunk.offset !== this.received) {
      throw new SnapshotTransferError(
        "INVALID_ARGUMENT",
        `chunk at offset ${chunk.offset}, expected ${this.received}`,
      );
    }
    if (this.received + chunk.data.length > this.buffer.length) {
      throw new SnapshotTransferError(
        "INVALID_ARGUMENT",
        `chunks exceed the announced size ${this.buffer.length}`,
      );
    }
    this.buffer.set(chunk.data, this.received);
    this.crc = crc32c(chunk.data, this.crc);
    this.received += chunk.data.length;
    if (!chunk.last) return false;
    this.done = true;
    if (this.received !== this.buffer.length) {
      throw new SnapshotTransferError("DATA_LOSS", `got ${this.received} of ${this.buffer.length} bytes`);
    }
    if (this.crc !== this.meta!.checksum) {
      throw new SnapshotTransferError("DATA_LOSS", "snapshot checksum mismatch");
    }
    return true;
  }

  result(): { header: RaftMessage; meta: SnapshotMeta; data: Uint8Array } {
    if (!this.done || !this.header || !this.meta || !this.buffer) throw new Error("snapshot is not complete");
    return { header: this.header, meta: this.meta, data: this.buffer };
  }
}
