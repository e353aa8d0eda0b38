// package.json's `bin` must name the file the build writes, or `npm link`
// installs a `halon` that does not exist.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("package.json bin", () => {
  it("points at where tsconfig.build.json puts src/cli/main.ts", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { bin: Record<string, string> };
    const build = JSON.parse(readFileSync("tsconfig.build.json", "utf8")) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    const { rootDir, outDir } = build.compilerOptions;
    expect(rootDir).toBe("src");
    expect(pkg.bin.halon).toBe(`${outDir}/cli/main.js`);
    expect(readFileSync("src/cli/main.ts", "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
  });
});
