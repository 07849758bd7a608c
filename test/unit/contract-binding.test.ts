// The API contract (src/contract) is the one description of the REST API's JSON: take a field out of it and the
// master's mapper, the CLI and the web UI all stop compiling. A hand copy of the shapes anywhere would keep its side
// compiling, and this test would fail.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const contractFile = `${root}src/contract/migrations.ts`;

/** A field the master sends, the CLI's progress view prints and the web UI's migration pages show. */
const FIELD = '  bytes_transferred: number;\n';

/** The consumers of the field: the master's mapper, the CLI and the web pages (through web/src/api's re-exports). */
const SERVER_AND_CLI = ['src/master/http/migration-json.ts', 'src/cli/progress-view.ts'];
const WEB = ['web/src/pages/migrations/migration.tsx', 'web/src/pages/migrations/history.tsx'];

/** The options of a tsconfig, as tsc reads them. */
function options(tsconfig: string): ts.CompilerOptions {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    `${root}${tsconfig}`,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`cannot read ${tsconfig}`);
  return parsed.options;
}

/** The files (relative to the repository) with type errors when the contract reads `contract`. */
function filesWithErrors(tsconfig: string, files: string[], contract: string): string[] {
  const compilerOptions = options(tsconfig);
  const host = ts.createCompilerHost(compilerOptions);
  const readFile = host.readFile.bind(host);
  host.readFile = (fileName) => (fileName === contractFile ? contract : readFile(fileName));
  const program = ts.createProgram(
    files.map((file) => `${root}${file}`),
    compilerOptions,
    host,
  );
  const broken = ts
    .getPreEmitDiagnostics(program)
    .flatMap((diagnostic) => (diagnostic.file ? [diagnostic.file.fileName.replace(root, '')] : []));
  return [...new Set(broken)].sort();
}

describe('the API contract', { timeout: 120_000 }, () => {
  const original = readFileSync(contractFile, 'utf8');
  const withoutField = original.replace(FIELD, '');

  it('has the field this test takes out', () => {
    expect(withoutField).not.toBe(original);
  });

  it('binds the master’s mapper and the CLI: both stop compiling without a contract field', () => {
    expect(filesWithErrors('tsconfig.json', SERVER_AND_CLI, original)).toEqual([]);
    const broken = filesWithErrors('tsconfig.json', SERVER_AND_CLI, withoutField);
    expect(broken).toContain('src/master/http/migration-json.ts');
    expect(broken.filter((file) => file.startsWith('src/cli/'))).toContain('src/cli/progress-view.ts');
  });

  it('binds the web UI: its pages stop compiling without a contract field', () => {
    expect(filesWithErrors('web/tsconfig.json', WEB, original)).toEqual([]);
    const broken = filesWithErrors('web/tsconfig.json', WEB, withoutField);
    expect(broken).toEqual(expect.arrayContaining(WEB));
  });
});
