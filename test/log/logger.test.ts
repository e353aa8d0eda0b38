import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, wantsPretty } from "../../src/log/logger.js";

describe("logger", () => {
  it("writes one JSON object per line with level, name, time and fields", async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on("data", (c: Buffer) => chunks.push(c.toString("utf8")));
    const log = createLogger({ name: "rc1", pretty: false, destination: out, level: "debug" });
    log.info({ term: 3, index: 42 }, "became leader");
    log.debug("detail");
    log.trace("hidden below the level");
    await new Promise((r) => setImmediate(r));
    const lines = chunks.join("").trim().split("\n");
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 30, name: "rc1", term: 3, index: 42, msg: "became leader" });
    expect(typeof first.time).toBe("string");
    expect(Number.isNaN(Date.parse(first.time as string))).toBe(false);
  });

  it("chooses the pretty form at a terminal unless told otherwise", () => {
    expect(wantsPretty({}, true)).toBe(true);
    expect(wantsPretty({}, false)).toBe(false);
    expect(wantsPretty({ HALON_LOG_FORMAT: "json" }, true)).toBe(false);
    expect(wantsPretty({ HALON_LOG_FORMAT: "pretty" }, false)).toBe(true);
  });
});
