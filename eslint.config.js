// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/gen/", "coverage/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // Lower layers never import higher ones (DESIGN.md, "Layers").
    files: ["src/raft/**", "src/cep/**", "src/graph/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/rc/**", "**/node/**", "**/api/**", "**/cli/**", "**/config/**"],
              message: "raft/, cep/ and graph/ are libraries: they import nothing of Halon.",
            },
          ],
        },
      ],
    },
  },
  {
    // The bottom layer: small helpers every layer may use (assert, backoff, heap, hash).
    files: ["src/util/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ group: ["../*"], message: "util/ is the bottom layer: it imports nothing of Halon." }],
        },
      ],
    },
  },
  {
    files: ["src/rc/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/node/**", "**/api/**", "**/cli/**"],
              message: "rc/ may import raft, cep and graph only.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/api/**", "src/node/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/cli/**"], message: "Only the CLI sits above api/ and node/." },
            {
              group: ["**/dashboard/**"],
              message: "The dashboard sits above api/: api/ measures through instruments.",
            },
          ],
        },
      ],
    },
  },
  {
    // The dashboard's server sits between api/ and the CLI.
    files: ["src/dashboard/**"],
    ignores: ["src/dashboard/web/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/cli/**", "**/node/**"], message: "dashboard/ may import api/ and below." },
          ],
        },
      ],
    },
  },
  {
    // The page runs in the browser: it imports its own folder and front-end libraries only.
    files: ["src/dashboard/web/**"],
    languageOptions: {
      globals: {
        document: "readonly",
        window: "readonly",
        EventSource: "readonly",
        fetch: "readonly",
        MessageEvent: "readonly",
      },
    },
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["../*", "node:*"],
              message: "The page is bundled alone: no server code, no Node modules.",
            },
          ],
        },
      ],
    },
  },
);
