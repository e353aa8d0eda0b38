import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more workers only fight for them.
    maxWorkers: 2,
    // Kills what any test left running, and names it (test/helpers/global-process-guard.ts).
    globalSetup: ["test/helpers/global-process-guard.ts"],
  },
});
