// The layer rule is enforced by lint: an import that points outwards is an error that names the allowed layers.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: new URL('../..', import.meta.url).pathname });

async function importErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter(
      (m) => m.ruleId === 'no-restricted-imports' || m.ruleId === '@typescript-eslint/no-restricted-imports',
    )
    .map((m) => m.message);
}

describe('layer rule', { timeout: 60_000 }, () => {
  it('stops the core from importing an adapter', async () => {
    const errors = await importErrors(
      'src/core/ports.ts',
      "import { createDockerodeEngine } from '../docker/dockerode-engine.js';\nexport const x = createDockerodeEngine;\n",
    );
    expect(errors).toEqual([expect.stringMatching(/src\/core may import only src\/core/)]);
  });

  it('stops the core from doing I/O through node:*', async () => {
    const errors = await importErrors(
      'src/core/ports.ts',
      "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n",
    );
    expect(errors).toEqual([expect.stringMatching(/src\/core holds no I\/O/)]);
  });

  it('keeps the Docker adapter from reaching into the CLI', async () => {
    const errors = await importErrors(
      'src/docker/docker-host.ts',
      "import { renderTable } from '../cli/table.js';\nexport const x = renderTable;\n",
    );
    expect(errors).toEqual([
      expect.stringMatching(/src\/docker may import only src\/core and src\/platform/),
    ]);
  });

  it('lets the CLI, a composition root, import every layer', async () => {
    const errors = await importErrors(
      'src/cli/context.ts',
      "import { createDockerodeEngine } from '../docker/dockerode-engine.js';\nimport { AppError } from '../core/errors.js';\nexport const x = [createDockerodeEngine, AppError];\n",
    );
    expect(errors).toEqual([]);
  });

  it('lets the web UI import the API contract as types only', async () => {
    const typeOnly = await importErrors(
      'web/src/api/migration-types.ts',
      "export type { MigrationJson } from '../../../src/contract/index.js';\n",
    );
    expect(typeOnly).toEqual([]);
    const atRuntime = await importErrors(
      'web/src/api/migration-types.ts',
      "import { MIGRATION_STATUSES } from '../../../src/contract/index.js';\nexport const x = MIGRATION_STATUSES;\n",
    );
    expect(atRuntime).toEqual([expect.stringMatching(/imports the API contract as types only/)]);
  });

  it('keeps the web UI from importing the rest of src/, even as types', async () => {
    const errors = await importErrors(
      'web/src/api/migration-types.ts',
      "import type { ErrorCode } from '../../../src/core/errors.js';\nexport type X = ErrorCode;\n",
    );
    expect(errors).toEqual([expect.stringMatching(/of src\/ it may import only src\/contract/)]);
  });

  it('keeps the contract free of server code', async () => {
    const errors = await importErrors(
      'src/contract/codes.ts',
      "import { AppError } from '../core/errors.js';\nimport { z } from 'zod';\nexport const x = [AppError, z];\n",
    );
    expect(errors).toEqual([
      expect.stringMatching(/src\/contract is types and constant lists only: of src\/core it imports types/),
      expect.stringMatching(/src\/contract is types and constant lists only: the browser imports it/),
    ]);
  });
});
