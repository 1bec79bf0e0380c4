// ESLint, type-aware (typescript-eslint with the project service, so rules see tsc's types).
// `npm run lint` runs this, Prettier's check (the layout: 140 columns, .prettierrc.json) and
// hack/check-layers.mjs (the layer order and the import-cycle rule). Prettier does not break
// strings, so `max-len` is a ceiling at the longest string lines there are (see ARCHITECTURE.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-results/**', 'charts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // `_name` marks a deliberately unused binding: a rest sibling dropped from an object, an
      // argument an interface requires.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Off: async functions stand in for Promise-returning interfaces (Reconciler, stores, test
      // hooks) whether or not their body awaits; making them sync would change throw-vs-reject.
      '@typescript-eslint/require-await': 'off',
      // Off: `String(x)` of an unknown thrown value, after the `instanceof Error` case, is the
      // intended last resort for a log or message field.
      '@typescript-eslint/no-base-to-string': 'off',
      // Errors caught from a callback are passed on as they are (their type is unknown).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Off for now: rethrown errors carry the caught error's message in their own text; adding
      // `cause` everywhere is a change of its own (ESLint 10 added this rule to the recommended set).
      'preserve-caught-error': 'off',
      'max-len': ['error', { code: 400 }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests read JSON and YAML (apiserver answers, manifests, image labels) as untyped data and
      // assert on its shape; typing every probe would restate the schema under test.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // `expect(obj.method)` and destructured helpers whose methods do not use `this`.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly' },
    },
  },
);
