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
        { patterns: [{ group: ["**/cli/**"], message: "Only the CLI sits above api/ and node/." }] },
      ],
    },
  },
);
