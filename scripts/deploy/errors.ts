import { errorMessage } from '../../addon/daemon/error-message.ts';
// Failures the deploy reports as one line, never as a stack trace.

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure with a reason fit to print as is: one line, says what went wrong and where. */
export class DeployError extends Error {
  override readonly name = 'DeployError';
}

/** Reduces any thrown value to one printable line (first line of its message, no stack). */
export function oneLine(error: unknown): string {
  const text = errorMessage(error);
  const first = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line !== '');
  return first ?? 'unknown error';
}
