// Verifies LevelDB's table files (*.ldb, *.sst) before LevelDB opens them.
// classic-level reads without verify_checksums, and the prebuilt LevelDB keeps
// its assertions: a flipped byte inside a block can abort the whole process
// (dbformat.h "internal_key.size() >= 8") instead of returning an error. Every
// block of a table carries a masked CRC32C in its 5-byte trailer, so checking
// them all first turns that into a StorageCorruptionError naming the file.
//
// Table format (leveldb/doc/table_format.md): blocks, each followed by
// type(1) | masked crc32c(4) over the block and its type byte; at the end a
// 48-byte footer: metaindex handle | index handle (varints) | padding | magic(8).
// The index block's values are the handles of the data blocks.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "./crc32c.js";

const FOOTER = 48;
const TRAILER = 5;
const MAGIC_LOW = 0x8b80fb57;
const MAGIC_HIGH = 0xdb477524;

class TableError extends Error {}

/** Checks every table in `dir`; returns one line per damaged file (empty when all verify). */
export async function damagedTables(dir: string): Promise<string[]> {
  const problems: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  for (const name of names.filter((n) => n.endsWith(".ldb") || n.endsWith(".sst")).sort()) {
    const path = join(dir, name);
    try {
      verifyTable(await readFile(path));
    } catch (err) {
      if (!(err instanceof TableError)) throw err;
      problems.push(`${path}: ${err.message}`);
    }
  }
  return problems;
}

export function verifyTable(file: Buffer): void {
  if (file.length < FOOTER) throw new TableError(`${file.length} bytes, shorter than a table footer`);
  const footer = file.subarray(file.length - FOOTER);
  if (footer.readUInt32LE(FOOTER - 8) !== MAGIC_LOW || footer.readUInt32LE(FOOTER - 4) !== MAGIC_HIGH)
    throw new TableError("bad table magic number");
  const cursor = { buf: footer, at: 0 };
  const metaindex = readHandle(cursor);
  const index = readHandle(cursor);
  const limit = file.length - FOOTER;
  readBlock(file, metaindex, limit, "metaindex block");
  const indexBlock = readBlock(file, index, limit, "index block");
  for (const handle of blockValues(indexBlock)) readBlock(file, handle, limit, "data block");
}

interface Handle {
  offset: number;
  size: number;
}

function readBlock(file: Buffer, h: Handle, limit: number, what: string): Buffer {
  if (h.offset + h.size + TRAILER > limit)
    throw new TableError(`${what} at ${h.offset} (${h.size} bytes) runs past the end of the table`);
  const block = file.subarray(h.offset, h.offset + h.size);
  const type = file[h.offset + h.size]!;
  const stored = file.readUInt32LE(h.offset + h.size + 1);
  const actual = mask(crc32c(Buffer.of(type), crc32c(block)));
  if (stored !== actual) throw new TableError(`${what} at ${h.offset}: checksum mismatch`);
  if (type === 0) return block;
  if (type === 1) return snappyUncompress(block);
  throw new TableError(`${what} at ${h.offset}: unknown compression type ${type}`);
}

/** Snappy's block format (only the index block is read, so speed does not matter). */
function snappyUncompress(input: Buffer): Buffer {
  const cursor = { buf: input, at: 0 };
  const length = readVarint(cursor);
  if (length > 64 << 20) throw new TableError("compressed block claims an absurd length");
  const out = Buffer.alloc(length);
  let o = 0;
  const need = (n: number) => {
    if (cursor.at + n > input.length) throw new TableError("truncated compressed block");
  };
  while (cursor.at < input.length) {
    const tag = input[cursor.at++]!;
    let len: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        len = (tag >>> 2) + 1;
        if (len > 60) {
          const extra = len - 60;
          need(extra);
          len = input.readUIntLE(cursor.at, extra) + 1;
          cursor.at += extra;
        }
        need(len);
        if (o + len > length) throw new TableError("compressed block overflows");
        input.copy(out, o, cursor.at, cursor.at + len);
        cursor.at += len;
        o += len;
        continue;
      }
      case 1:
        need(1);
        len = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | input[cursor.at++]!;
        break;
      case 2:
        need(2);
        len = (tag >>> 2) + 1;
        offset = input.readUInt16LE(cursor.at);
        cursor.at += 2;
        break;
      default:
        need(4);
        len = (tag >>> 2) + 1;
        offset = input.readUInt32LE(cursor.at);
        cursor.at += 4;
    }
    if (offset === 0 || offset > o || o + len > length) throw new TableError("bad copy in compressed block");
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset]!;
  }
  if (o !== length) throw new TableError("compressed block is shorter than it claims");
  return out;
}

/** The values of a block's entries (for the index block: data block handles). */
function blockValues(block: Buffer): Handle[] {
  if (block.length === 0) return [];
  if (block.length < 4) throw new TableError("index block too short");
  const restarts = block.readUInt32LE(block.length - 4);
  const end = block.length - 4 - 4 * restarts;
  if (end < 0) throw new TableError("index block: bad restart count");
  const handles: Handle[] = [];
  const cursor = { buf: block, at: 0 };
  while (cursor.at < end) {
    readVarint(cursor); // bytes shared with the previous key
    const unshared = readVarint(cursor);
    const valueLength = readVarint(cursor);
    cursor.at += unshared;
    const valueEnd = cursor.at + valueLength;
    if (valueEnd > end) throw new TableError("index block: entry runs past its end");
    handles.push(readHandle(cursor));
    cursor.at = valueEnd;
  }
  return handles;
}

function readHandle(cursor: { buf: Buffer; at: number }): Handle {
  return { offset: readVarint(cursor), size: readVarint(cursor) };
}

function readVarint(cursor: { buf: Buffer; at: number }): number {
  let value = 0;
  for (let shift = 0; shift < 64; shift += 7) {
    if (cursor.at >= cursor.buf.length) throw new TableError("truncated varint");
    const byte = cursor.buf[cursor.at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new TableError("varint out of range");
      return value;
    }
  }
  throw new TableError("varint too long");
}

/** LevelDB stores CRCs masked, so that a CRC of data that holds CRCs stays meaningful. */
function mask(crc: number): number {
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}
