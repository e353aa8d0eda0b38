// Snapshots as files, one per snapshot, written so that a crash at any moment
// leaves either the old set of snapshots or the new one, never a half file
// under a final name: write to a temporary name, fsync the file, rename, fsync
// the directory. Each file carries a checksummed header and a checksum of the
// payload; latest() skips (and reports) any file that does not verify.
//
//   "HALONSN1" | headerLength u32 | header (JSON) | crc32c(headerLength|header) u32 | payload
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Snapshot, SnapshotStore } from "../storage.js";
import type { SnapshotMeta } from "../types.js";
import { crc32c } from "./crc32c.js";

const MAGIC = Buffer.from("HALONSN1", "ascii");
const NAME = /^snap-(\d{20})-(\d{20})\.snap$/;
const TEMP_SUFFIX = ".tmp";
const CORRUPT_SUFFIX = ".corrupt";
/** Writes and checksums go in pieces of this size, so large payloads never need a second copy. */
const CHUNK = 1 << 20;

interface Header {
  meta: SnapshotMeta;
  size: number;
  checksum: number;
}

export interface FileSnapshotStoreOptions {
  dir: string;
  /** How many complete snapshots to keep; older ones are deleted after a save. Default 2. */
  retain?: number;
  /** Told about torn, corrupt or leftover files, which are skipped. */
  onWarning?: (message: string, details: Record<string, unknown>) => void;
}

export function snapshotFileName(index: number, term: number): string {
  return `snap-${String(index).padStart(20, "0")}-${String(term).padStart(20, "0")}.snap`;
}

export class SnapshotFileError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = "SnapshotFileError";
  }
}

export class FileSnapshotStore implements SnapshotStore {
  private readonly retain: number;
  private ready: Promise<void> | null = null;

  constructor(private readonly options: FileSnapshotStoreOptions) {
    this.retain = Math.max(1, options.retain ?? 2);
  }

  get directory(): string {
    return this.options.dir;
  }

  async save(snapshot: Snapshot): Promise<void> {
    await this.prepare();
    const { meta, data } = snapshot;
    const final = join(this.options.dir, snapshotFileName(meta.index, meta.term));
    const temp = final + TEMP_SUFFIX;
    const header: Header = { meta, size: data.length, checksum: checksumInChunks(data) };
    const file = await open(temp, "w", 0o600);
    try {
      await file.write(encodeHeader(header));
      for (let offset = 0; offset < data.length; offset += CHUNK) {
        await file.write(data.subarray(offset, Math.min(data.length, offset + CHUNK)));
      }
      await file.sync();
    } catch (err) {
      // A full disk, most likely: give back the space the half file took.
      await file.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
    await file.close();
    await rename(temp, final);
    await syncDirectory(this.options.dir);
    await this.prune();
  }

  async latest(): Promise<Snapshot | null> {
    await this.prepare();
    for (const name of await this.listNewestFirst()) {
      const path = join(this.options.dir, name);
      try {
        return await readSnapshotFile(path);
      } catch (err) {
        if (!(err instanceof SnapshotFileError)) throw err;
        // Renamed aside, so that it neither counts among the snapshots kept nor is read again.
        await rename(path, path + CORRUPT_SUFFIX);
        this.options.onWarning?.("skipping a snapshot that does not verify", {
          file: path,
          movedTo: path + CORRUPT_SUFFIX,
          reason: err.message,
        });
      }
    }
    return null;
  }

  async close(): Promise<void> {
    await this.ready?.catch(() => undefined);
  }

  /** Creates the directory and removes temporary files a crash left behind. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.options.dir, { recursive: true });
      for (const name of await readdir(this.options.dir)) {
        if (!name.endsWith(TEMP_SUFFIX)) continue;
        await rm(join(this.options.dir, name), { force: true });
        this.options.onWarning?.("removed a snapshot that was being written when the replica stopped", {
          file: join(this.options.dir, name),
        });
      }
    })();
    return this.ready;
  }

  private async listNewestFirst(): Promise<string[]> {
    const names = (await readdir(this.options.dir)).filter((n) => NAME.test(n));
    // Zero-padded index then term: the names sort in snapshot order.
    return names.sort().reverse();
  }

  private async prune(): Promise<void> {
    const names = await this.listNewestFirst();
    for (const name of names.slice(this.retain)) await rm(join(this.options.dir, name), { force: true });
  }
}

function checksumInChunks(data: Uint8Array): number {
  let crc = 0;
  for (let offset = 0; offset < data.length; offset += CHUNK) {
    crc = crc32c(data.subarray(offset, Math.min(data.length, offset + CHUNK)), crc);
  }
  return crc;
}

function encodeHeader(header: Header): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const out = Buffer.allocUnsafe(MAGIC.length + 4 + json.length + 4);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(json.length, MAGIC.length);
  json.copy(out, MAGIC.length + 4);
  const crc = crc32c(out.subarray(MAGIC.length, MAGIC.length + 4 + json.length));
  out.writeUInt32BE(crc, MAGIC.length + 4 + json.length);
  return out;
}

/** Reads and verifies one snapshot file; throws SnapshotFileError for anything torn or corrupt. */
export async function readSnapshotFile(path: string): Promise<Snapshot> {
  const file = await open(path, "r");
  try {
    const { size: fileSize } = await stat(path);
    const fixed = Buffer.alloc(MAGIC.length + 4);
    await file.read(fixed, 0, fixed.length, 0);
    if (!fixed.subarray(0, MAGIC.length).equals(MAGIC))
      throw new SnapshotFileError(path, "not a Halon snapshot");
    const headerLength = fixed.readUInt32BE(MAGIC.length);
    if (headerLength > 1 << 20 || fixed.length + headerLength + 4 > fileSize) {
      throw new SnapshotFileError(path, "torn header");
    }
    const rest = Buffer.alloc(headerLength + 4);
    await file.read(rest, 0, rest.length, fixed.length);
    const crc = crc32c(rest.subarray(0, headerLength), crc32c(fixed.subarray(MAGIC.length)));
    if (crc !== rest.readUInt32BE(headerLength))
      throw new SnapshotFileError(path, "header checksum mismatch");
    const header = JSON.parse(rest.subarray(0, headerLength).toString("utf8")) as Header;
    const payloadStart = fixed.length + rest.length;
    if (fileSize !== payloadStart + header.size) {
      throw new SnapshotFileError(path, `torn payload: ${fileSize - payloadStart} of ${header.size} bytes`);
    }
    const data = new Uint8Array(header.size);
    for (let offset = 0; offset < header.size;) {
      const { bytesRead } = await file.read(
        data,
        offset,
        Math.min(CHUNK, header.size - offset),
        payloadStart + offset,
      );
      if (bytesRead === 0) throw new SnapshotFileError(path, "file shrank while reading");
      offset += bytesRead;
    }
    if (checksumInChunks(data) !== header.checksum)
      throw new SnapshotFileError(path, "payload checksum mismatch");
    return { meta: header.meta, data };
  } finally {
    await file.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
