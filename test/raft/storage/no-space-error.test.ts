// What counts as "the disk is full": Node's errno errors, and LevelDB's, which
// classic-level reports as a message, often wrapped (LEVEL_DATABASE_NOT_OPEN
// with the I/O error as its cause).
import { describe, expect, it } from "vitest";
import { isNoSpaceError } from "../../../src/raft/storage.js";

function errno(code: string): Error {
  const e = new Error(`${code}: some message`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

describe("isNoSpaceError", () => {
  it("recognises ENOSPC and EDQUOT, by code or by LevelDB's message, also as a cause", () => {
    expect(isNoSpaceError(errno("ENOSPC"))).toBe(true);
    expect(isNoSpaceError(errno("EDQUOT"))).toBe(true);
    expect(isNoSpaceError(new Error("IO error: /d/000005.log: No space left on device"))).toBe(true);
    const wrapped = new Error("Database failed to open", {
      cause: new Error("IO error: /d/000007.ldb: No space left on device"),
    });
    expect(isNoSpaceError(wrapped)).toBe(true);
  });

  it("does not mistake other failures for a full disk", () => {
    expect(isNoSpaceError(errno("EIO"))).toBe(false);
    expect(isNoSpaceError(errno("EACCES"))).toBe(false);
    expect(isNoSpaceError(new Error("Corruption: checksum mismatch"))).toBe(false);
    expect(isNoSpaceError("No space left on device")).toBe(false);
    expect(isNoSpaceError(undefined)).toBe(false);
  });
});
