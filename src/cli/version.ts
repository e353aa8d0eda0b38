import { readFileSync } from "node:fs";

/** The version in package.json, found relative to this file in src/ and in dist/. */
export function halonVersion(): string {
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "halon" && pkg.version) return pkg.version;
    } catch {
      // not at this depth; try the next
    }
  }
  return "unknown";
}
