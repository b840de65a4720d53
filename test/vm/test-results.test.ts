// The closing line's counts: a file that died in its set-up, or a run that wrote no report,
// must never read as "0 failed".
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { countsOf, failuresOf } from '../../scripts/test-results.ts';

describe('countsOf', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'test-results-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const report = (name: string, value: unknown): string => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };
  const base = { numPassedTests: 5, numFailedTests: 0, numPendingTests: 2, numTodoTests: 1 };

  it('counts passed, failed and skipped (pending + todo) tests', () => {
    const file = report('ok.json', {
      ...base,
      numFailedTests: 1,
      testResults: [{ status: 'failed', assertionResults: [{ status: 'failed' }, { status: 'passed' }] }],
    });
    expect(countsOf(file, 'x')).toEqual({ passed: 5, failed: 1, skipped: 3 });
  });

  it('counts a file whose set-up failed (its tests read as skipped) as one failure', () => {
    const file = report('setup.json', {
      ...base,
      testResults: [
        { status: 'failed', assertionResults: [{ status: 'skipped' }, { status: 'skipped' }] },
        { status: 'passed', assertionResults: [{ status: 'passed' }] },
      ],
    });
    expect(countsOf(file, 'x')).toEqual({ passed: 5, failed: 1, skipped: 3 });
  });

  it('counts a missing report as one failure and says so', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(countsOf(path.join(dir, 'none.json'), 'vitest in the VM')).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(error).toHaveBeenCalledWith(expect.stringContaining('vitest in the VM wrote no results'));
    error.mockRestore();
  });

  it('names each failed test and each file that died in set-up, one line each, colours stripped', () => {
    const file = report('failures.json', {
      ...base,
      numFailedTests: 1,
      testResults: [
        {
          name: path.join(dir, 'test/a.test.ts'),
          status: 'failed',
          assertionResults: [
            { status: 'passed', fullName: 'a works' },
            {
              status: 'failed',
              fullName: 'a > counts',
              failureMessages: ['AssertionError: \x1b[31mexpected 3 to be 4\x1b[39m\n    at x.ts:1:1'],
            },
          ],
        },
        {
          name: path.join(dir, 'test/b.test.ts'),
          status: 'failed',
          message: 'Error: hook timed out\nstack',
          assertionResults: [{ status: 'skipped', fullName: 'b' }],
        },
        { name: path.join(dir, 'test/c.test.ts'), status: 'passed', assertionResults: [] },
      ],
    });
    expect(failuresOf(file, dir)).toEqual([
      'test/a.test.ts > a > counts: AssertionError: expected 3 to be 4',
      'test/b.test.ts: Error: hook timed out',
    ]);
  });

  it('names nothing for a missing report (its count already says it failed)', () => {
    expect(failuresOf(path.join(dir, 'none.json'), dir)).toEqual([]);
  });
});
