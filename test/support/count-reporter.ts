// Appends each vitest run's pass/fail counts to a file so `make test` can print one total line across tiers.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

interface SerializedErrorLike {
  message?: string;
}

export default class CountReporter implements Reporter {
  onTestRunEnd(
    modules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedErrorLike>,
  ): void {
    const file = process.env.DM_TEST_COUNTS;
    if (!file) return;
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of modules) {
      // A file that failed to load has no test cases but must count as a failure.
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed += 1;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
    }
    failed += unhandledErrors.length;
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, `${passed} ${failed} ${skipped}\n`);
  }
}
