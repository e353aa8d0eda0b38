// The one content hash of the code base: SHA-256, hex. State hashes, graph
// hashes, event ids derived from content and the hash-chain test machine all
// use it, so that "the same hash" means the same thing everywhere. (Checksums
// of stored and sent bytes are CRC32C, which the storage formats fix:
// src/raft/storage/crc32c.ts.)
import { createHash } from "node:crypto";

/** SHA-256 (hex) of the parts, in order, as one byte string (strings as UTF-8). */
export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** The same SHA-256, fed piece by piece (a hash taken a slice at a time between turns of the event loop). */
export function sha256Hasher(): { update(part: string | Uint8Array): void; hex(): string } {
  const h = createHash("sha256");
  return {
    update: (part) => void h.update(part),
    hex: () => h.digest("hex"),
  };
}
