// CRC32C (Castagnoli), the checksum LevelDB, ext4 and iSCSI use for records.
// node:zlib's crc32 is the IEEE polynomial, and the proto promises CRC32C, so
// this is a small table-driven version of our own.

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continues a running CRC over `bytes`; start with `crc32c(bytes)` and pass the result back in. */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = (TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)) >>> 0;
  }
  return ~crc >>> 0;
}
