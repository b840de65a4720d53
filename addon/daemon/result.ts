// The one shape of "a value, or why not" for code that reports instead of throwing
// (parsers, validators, readers): test `ok`, then use `value` or `reason`.
export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };
