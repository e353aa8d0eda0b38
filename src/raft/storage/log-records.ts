// The byte layout of what the LevelDB log store keeps. Every value starts with
// a CRC32C over the rest of the value *and* the key, so a record that was
// flipped, truncated or written under the wrong key is caught at load.
//
//   key  "e" + index (8 bytes, big-endian, so LevelDB's order is log order)
//   value crc32c(4) | term(8) | type(1) | data
//   key  "h"   value crc32c(4) | term(8) | commit(8) | vote (UTF-8, may be empty)
//   key  "c"   value crc32c(4) | compactedIndex(8) | compactedTerm(8)
//   key  "i"   value crc32c(4) | storage identity (UTF-8), written once when the store is new
import type { EntryType, Entry, HardState } from "../types.js";
import { crc32c } from "./crc32c.js";

export const ENTRY_PREFIX = 0x65; // "e"
export const HARD_STATE_KEY = Buffer.from("h");
export const COMPACTION_KEY = Buffer.from("c");
export const IDENTITY_KEY = Buffer.from("i");

export class RecordError extends Error {}

export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  key.writeBigUInt64BE(BigInt(index), 1);
  return key;
}

export function indexOfEntryKey(key: Uint8Array): number {
  if (key.length !== 9 || key[0] !== ENTRY_PREFIX) throw new RecordError("not an entry key");
  return Number(Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(1));
}

/** The smallest and one-past-largest entry keys, for range scans. */
export const ENTRY_KEY_MIN = entryKey(0);
export const ENTRY_KEY_END = Buffer.from([ENTRY_PREFIX + 1]);

function writeU64(buf: Buffer, value: number, offset: number): void {
  // Raft indexes and terms stay far below 2^53; two halves avoid BigInt on the hot path.
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}

function seal(key: Uint8Array, value: Buffer): Buffer {
  value.writeUInt32BE(crc32c(value.subarray(4), crc32c(key)), 0);
  return value;
}

function unseal(key: Uint8Array, value: Uint8Array, minLength: number): Buffer {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < minLength)
    throw new RecordError(`record is ${buf.length} bytes, shorter than ${minLength}`);
  const stored = buf.readUInt32BE(0);
  const actual = crc32c(buf.subarray(4), crc32c(key));
  if (stored !== actual) {
    throw new RecordError(
      `checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`,
    );
  }
  return buf;
}

export function encodeEntry(key: Buffer, entry: Entry): Buffer {
  const value = Buffer.allocUnsafe(13 + entry.data.length);
  writeU64(value, entry.term, 4);
  value[12] = entry.type;
  value.set(entry.data, 13);
  return seal(key, value);
}

export function decodeEntry(key: Uint8Array, value: Uint8Array): Entry {
  const buf = unseal(key, value, 13);
  const type = buf[12]!;
  if (type > 2) throw new RecordError(`unknown entry type ${type}`);
  return {
    index: indexOfEntryKey(key),
    term: readU64(buf, 4),
    type: type as EntryType,
    // A copy, so the entry does not pin LevelDB's read buffer.
    data: Uint8Array.prototype.slice.call(buf, 13),
  };
}

export function encodeHardState(state: HardState): Buffer {
  const vote = Buffer.from(state.vote ?? "", "utf8");
  const value = Buffer.allocUnsafe(20 + vote.length);
  writeU64(value, state.term, 4);
  writeU64(value, state.commit, 12);
  value.set(vote, 20);
  return seal(HARD_STATE_KEY, value);
}

export function decodeHardState(value: Uint8Array): HardState {
  const buf = unseal(HARD_STATE_KEY, value, 20);
  const vote = buf.subarray(20).toString("utf8");
  return { term: readU64(buf, 4), commit: readU64(buf, 12), vote: vote === "" ? null : vote };
}

export function encodeCompaction(index: number, term: number): Buffer {
  const value = Buffer.allocUnsafe(20);
  writeU64(value, index, 4);
  writeU64(value, term, 12);
  return seal(COMPACTION_KEY, value);
}

export function decodeCompaction(value: Uint8Array): { index: number; term: number } {
  const buf = unseal(COMPACTION_KEY, value, 20);
  return { index: readU64(buf, 4), term: readU64(buf, 12) };
}

export function encodeIdentity(id: string): Buffer {
  const text = Buffer.from(id, "utf8");
  const value = Buffer.allocUnsafe(4 + text.length);
  value.set(text, 4);
  return seal(IDENTITY_KEY, value);
}

export function decodeIdentity(value: Uint8Array): string {
  return unseal(IDENTITY_KEY, value, 5).subarray(4).toString("utf8");
}
