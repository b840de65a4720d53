// Collects errors and warnings for one file, with caps so a garbage file cannot produce
// a flood (or unbounded work): after MAX_ERRORS errors the parser is told to stop.
import type { ConfigDiagnostic, SourceLocation } from './types.ts';

export const MAX_ERRORS = 20;
export const MAX_WARNINGS = 40;

export interface LineColumn {
  readonly line: number;
  readonly column: number;
}

export class DiagnosticCollector {
  readonly errors: ConfigDiagnostic[] = [];
  readonly warnings: ConfigDiagnostic[] = [];
  readonly file: string;
  #droppedWarnings = 0;
  #firstDroppedWarning: SourceLocation | undefined;

  constructor(file: string) {
    this.file = file;
  }

  /** True once the error cap is reached; the parser stops reading. */
  get full(): boolean {
    return this.errors.length >= MAX_ERRORS;
  }

  location(at: LineColumn): SourceLocation {
    return { file: this.file, line: at.line, column: at.column };
  }

  error(at: LineColumn, message: string): void {
    if (this.full) return;
    if (this.errors.length === MAX_ERRORS - 1) {
      message += ` (stopping after ${MAX_ERRORS} errors)`;
    }
    this.errors.push({ severity: 'error', location: this.location(at), message });
  }

  warning(at: LineColumn, message: string): void {
    if (this.warnings.length >= MAX_WARNINGS) {
      if (this.#droppedWarnings++ === 0) this.#firstDroppedWarning = this.location(at);
      return;
    }
    this.warnings.push({ severity: 'warning', location: this.location(at), message });
  }

  /** Orders by position and adds the "N more warnings" line; call once when parsing is done. */
  finish(): void {
    // Array.prototype.sort is stable, so diagnostics at one position keep their order.
    const byPosition = (a: ConfigDiagnostic, b: ConfigDiagnostic) =>
      a.location.line - b.location.line || a.location.column - b.location.column;
    this.errors.sort(byPosition);
    this.warnings.sort(byPosition);
    if (this.#firstDroppedWarning === undefined) return;
    this.warnings.push({
      severity: 'warning',
      location: this.#firstDroppedWarning,
      message: `${this.#droppedWarnings} more warnings from here on are not shown`,
    });
  }
}
