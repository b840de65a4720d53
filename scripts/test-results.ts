// The counts behind the test command's closing line, read from vitest's JSON report.
import { existsSync, readFileSync } from 'node:fs';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: { status: string; assertionResults: { status: string }[] }[];
}

/**
 * The counts of one report. A file whose set-up failed reports its tests as skipped, so
 * each such file counts as one failure; a missing report (the run died) counts as one too.
 */
export function countsOf(jsonFile: string, what: string): Counts {
  if (!existsSync(jsonFile)) {
    console.error(`test: ${what} wrote no results (${jsonFile})`);
    return { passed: 0, failed: 1, skipped: 0 };
  }
  const report = JSON.parse(readFileSync(jsonFile, 'utf8')) as VitestReport;
  const brokenFiles = report.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
  ).length;
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + brokenFiles,
    skipped: report.numPendingTests + report.numTodoTests,
  };
}
