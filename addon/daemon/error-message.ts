// The text of anything thrown: JavaScript lets code throw any value, so `(error as
// Error).message` can be undefined. Every module that shows a caught error uses this.

/** The message of an Error, or the thrown value as text. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return String(error);
}
