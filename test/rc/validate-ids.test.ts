// Ids are checked without a regular expression on the usual path (printable
// ASCII); the result must be exactly the rule's: 1 to 256 characters, no
// spaces or control characters (docs/api.md, "Bounds").
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkIdField } from "../../src/rc/validate.js";

const RULE = /^[^\s\p{Cc}]{1,256}$/u;

function accepted(id: string): boolean {
  try {
    checkIdField(id, "id");
    return true;
  } catch {
    return false;
  }
}

describe("event ids", () => {
  it("are accepted exactly when the rule says so", () => {
    const ascii = fc.string({ unit: "binary-ascii", maxLength: 300 });
    const any = fc.string({ unit: "grapheme", maxLength: 300 });
    const long = fc.integer({ min: 250, max: 260 }).map((n) => "x".repeat(n));
    fc.assert(
      fc.property(fc.oneof(ascii, any, long), (id) => {
        expect(accepted(id), JSON.stringify(id)).toBe(RULE.test(id));
      }),
      { numRuns: 5_000, seed: 1203 },
    );
  });

  it("edge cases", () => {
    for (const [id, ok] of [
      ["", false],
      ["a", true],
      ["node-1", true],
      ["a b", false],
      ["a\tb", false],
      ["a\u007fb", false],
      ["a\u0085b", false],
      ["a\u00a0b", false],
      ["é", true],
      ["x".repeat(256), true],
      ["x".repeat(257), false],
      ["🙂".repeat(256), true],
    ] as const)
      expect(accepted(id), JSON.stringify(id)).toBe(ok);
  });
});
