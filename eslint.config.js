// Lint rules for the whole repository, including the layer rule: dependencies point inwards (see style.md).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Import patterns that reach each top-level folder of src/, whatever the relative depth. */
const layer = {
  docker: ['**/docker/*', '**/docker/**'],
  transfer: ['**/transfer/*', '**/transfer/**'],
  master: ['**/master/*', '**/master/**'],
  worker: ['**/worker/*', '**/worker/**'],
  platform: ['**/platform/*', '**/platform/**'],
  cli: ['**/cli/*', '**/cli/**'],
  gen: ['**/gen/*', '**/gen/**'],
};

/** Builds a no-restricted-imports rule that names the layers a folder may use. */
function onlyLayers(folder, allowed, forbidden, extra = []) {
  return {
    files: [`src/${folder}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: forbidden.flatMap((name) => layer[name]),
              message: `src/${folder} may import only ${allowed}: dependencies point inwards (style.md).`,
            },
            ...extra,
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'bin/', 'src/gen/', '.artifacts/', 'coverage/'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: { allowDefaultProject: ['*.js', 'scripts/*.mjs'] } },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'func-style': ['error', 'declaration', { allowArrowFunctions: true }],
    },
  },
  {
    // The web UI runs in the browser and follows the rules of hooks. It reads the API contract (src/contract) and
    // nothing else of src/, and only its types: no server code, no Node API can reach the browser bundle.
    files: ['web/**/*.ts', 'web/**/*.tsx'],
    plugins: { 'react-hooks': reactHooks },
    languageOptions: { globals: globals.browser },
    rules: {
      ...reactHooks.configs.recommended.rules,
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/contract', '**/src/contract/**'],
              allowTypeImports: true,
              message:
                'web/ imports the API contract as types only (import type …): it has no runtime in the browser.',
            },
            {
              regex: '^(\\.\\./)+src/(?!contract(/|$))',
              message:
                'web/ talks to the master through the REST API; of src/ it may import only src/contract, as types.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // @types/dockerode declares as always present fields the Engine sends as null (Ports, Mounts, Labels…).
    files: ['src/docker/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-condition': 'off' },
  },
  {
    files: ['**/*.test.ts', '**/*.test.tsx', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Tests type the JSON they read with a type argument used once, as a cast.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
    },
  },
  onlyLayers(
    'core',
    'src/core (no node:*, no I/O, no adapter)',
    ['docker', 'transfer', 'master', 'worker', 'platform', 'cli', 'gen'],
    [
      {
        group: ['node:*', 'dockerode', 'pino', 'fastify', '@grpc/*'],
        message: 'src/core holds no I/O: talk to the world through ports.ts.',
      },
    ],
  ),
  {
    // The contract is what the browser may import: nothing of the server, no library, no Node API; of src/core
    // only types (the plain values of docker-resources.ts).
    files: ['src/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['docker', 'transfer', 'master', 'worker', 'platform', 'cli', 'gen'].flatMap(
                (name) => layer[name],
              ),
              message: 'src/contract is types and constant lists only: the browser imports it.',
            },
            {
              group: ['**/core/*', '**/core/**'],
              allowTypeImports: true,
              message: 'src/contract is types and constant lists only: of src/core it imports types.',
            },
            {
              group: ['node:*', 'zod', 'fastify', '@grpc/*', 'dockerode', 'pino'],
              message: 'src/contract is types and constant lists only: the browser imports it.',
            },
          ],
        },
      ],
    },
  },
  onlyLayers('platform', 'src/core and src/platform', [
    'docker',
    'transfer',
    'master',
    'worker',
    'cli',
    'gen',
  ]),
  onlyLayers('docker', 'src/core and src/platform', ['transfer', 'master', 'worker', 'cli', 'gen']),
  onlyLayers('transfer', 'src/core, src/platform and src/gen', ['docker', 'master', 'worker', 'cli']),
  onlyLayers('master', 'src/core, src/platform, src/transfer and src/gen', ['docker', 'worker', 'cli']),
  onlyLayers('worker', 'src/core, src/platform, src/docker, src/transfer and src/gen', ['master', 'cli']),
  prettier,
);
