// The counts behind the test command's closing line, read from vitest's JSON report.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

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
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { status: string; fullName: string; failureMessages?: string[] }[];
  }[];
}

/** At most this many characters of a failure's first message line in the closing list. */
const REASON_CHARS = 300;

/**
 * The counts of one report. A file whose set-up failed reports its tests as skipped, so
 * each such file counts as one failure; a missing report (the run died) counts as one too.
 */
export function countsOf(jsonFile: string, what: string): Counts {
  const report = readReport(jsonFile, what);
  if (!report) return { passed: 0, failed: 1, skipped: 0 };
  return {
    passed: report.numPassedTests,
    failed: report.numFailedTests + brokenFiles(report).length,
    skipped: report.numPendingTests + report.numTodoTests,
  };
}

/**
 * One line per failed test (and per file whose set-up failed): its file, its name and the
 * first line of its reason. Printed just before the closing line, so a log's tail, all a CI
 * summary may keep, still names what failed.
 */
export function failuresOf(jsonFile: string, root: string): string[] {
  const report = readReport(jsonFile, undefined);
  if (!report) return [];
  const firstLine = (text: string | undefined) =>
    (text ?? '')
      .replace(/\x1b\[[0-9;]*m/g, '')
      .trim()
      .split('\n')[0]!
      .slice(0, REASON_CHARS);
  const lines: string[] = [];
  for (const file of report.testResults) {
    const name = path.relative(root, file.name);
    for (const test of file.assertionResults) {
      if (test.status === 'failed') lines.push(`${name} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
    }
  }
  for (const file of brokenFiles(report)) {
    lines.push(`${path.relative(root, file.name)}: ${firstLine(file.message)}`);
  }
  return lines;
}

function brokenFiles(report: VitestReport): VitestReport['testResults'] {
  return report.testResults.filter(
    (file) => file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed'),
  );
}

function readReport(jsonFile: string, what: string | undefined): VitestReport | undefined {
  if (!existsSync(jsonFile)) {
    if (what) console.error(`test: ${what} wrote no results (${jsonFile})`);
    return undefined;
  }
  return JSON.parse(readFileSync(jsonFile, 'utf8')) as VitestReport;
}
