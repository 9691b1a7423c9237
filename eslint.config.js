// Type-aware linting (STYLE.md): floating promises and non-exhaustive switches are errors.
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "clients/typescript/dist/**",
      "node_modules/**",
      "bench/**",
      "examples/**",
      // The 4-line JS launcher of tickwire-loadtest; everything it loads is TypeScript and linted.
      "loadtest/bin/**",
      "loadtest-out/**",
      "*.config.js",
      ".dependency-cruiser.cjs",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's describe/it return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            {
              from: "package",
              package: "node:test",
              name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"],
            },
          ],
        },
      ],
      "@typescript-eslint/switch-exhaustiveness-check": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "use an `as const` object" },
      ],
    },
  },
);
