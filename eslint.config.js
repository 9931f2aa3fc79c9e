// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

/**
 * DESIGN.md's "may import" column, as lint rules: each folder of src/ may import only the
 * folders listed for it (and itself). A folder not listed here (src/cli) may import anything in
 * src/. Nothing in src/ imports bench/ or test/.
 */
const MAY_IMPORT = {
  'src/protocol': [],
  'src/sql': ['src/protocol'],
  'src/storage': ['src/sql', 'src/protocol'],
  'src/server/core': ['src/protocol'],
  'src/server/view': ['src/server/core', 'src/protocol'],
  'src/server/net': ['src/server/core', 'src/server/view', 'src/storage', 'src/protocol'],
  'src/http': ['src/server/view', 'src/protocol'],
  'src/log': ['src/protocol'],
  'src/connection': ['src/protocol'],
  'src/client': ['src/connection', 'src/protocol'],
  'src/worker': ['src/connection', 'src/protocol'],
  'src/admin': ['src/connection', 'src/protocol'],
  'src/scheduler': ['src/client', 'src/worker', 'src/connection', 'src/sql', 'src/protocol'],
  'src/manager': ['src/worker', 'src/admin', 'src/connection', 'src/protocol'],
};
/** Every folder a rule can name; `src/log` is the shared logger every layer that logs may use. */
const FOLDERS = [
  ...Object.keys(MAY_IMPORT),
  'src/cli',
  'src/server/start-server.ts',
  'src/server/config.ts',
  'src/server/index.ts',
  'src/index.ts',
];
const layerZones = Object.entries(MAY_IMPORT).map(([target, allowed]) => ({
  target: `./${target}`,
  from: FOLDERS.filter(
    (folder) =>
      folder !== target &&
      !allowed.includes(folder) &&
      // A folder may use the shared logger once it exists (see docs/architecture.md).
      !(folder === 'src/log' && target !== 'src/protocol'),
  ).map((folder) => `./${folder}`),
  message: `DESIGN.md: ${target} may import only ${allowed.join(', ') || 'nothing else of ours'}`,
}));

export default tseslint.config(
  {
    ignores: ['dist/', 'node_modules/', 'bin/', 'scripts/', 'examples/**/*.js', 'eslint.config.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself tracks.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
    },
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            ...layerZones,
            {
              target: './src',
              from: ['./bench', './test'],
              message: 'src/ must not import bench/ or test/',
            },
          ],
        },
      ],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // STYLE.md: split by concern past ~400 lines; never past 700.
      'max-lines': ['error', { max: 700 }],
    },
  },
);
