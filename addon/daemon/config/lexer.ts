// Splits igmpproxy.conf text into tokens with 1-based line/column positions.
// Grammar (as C igmpproxy): whitespace separates tokens, `#` starts a comment that runs to
// the end of the line. Deviations, all on the side of "mean what the author meant":
// - `#` inside a token ends the token (C glued the next line onto it);
// - trailing `;` on a token is dropped and remembered, so one note can explain it;
// - invisible characters pasted from web pages (no-break spaces etc.) separate tokens;
// - a NUL byte is reported once and then treated as a separator (C hangs on it);
// - over-long tokens and words with invalid UTF-8 are reported and handed on "poisoned" so the parser skips them quietly.

/** Longest token accepted; a chroot path is the longest legitimate value. C stops at 29. */
export const MAX_TOKEN_LENGTH = 255;

export interface Token {
  /** The token without trailing semicolons; for poisoned tokens only a prefix. */
  readonly text: string;
  readonly line: number;
  readonly column: number;
  /** True when the lexer already reported this token as unusable. */
  readonly poisoned: boolean;
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Things the lexer noticed that deserve a single summary diagnostic each. */
export interface LexerNotes {
  semicolonCount: number;
  firstSemicolon: Position | undefined;
  invisibleSpaceCount: number;
  firstInvisibleSpace: Position | undefined;
}

export type LexerErrorSink = (position: Position, message: string) => void;

const NEWLINE = 0x0a;
const NUL = 0x00;
const HASH = 0x23;
const SEMICOLON = 0x3b;
const BYTE_ORDER_MARK = 0xfeff;

function isAsciiSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** Spaces that look like a blank but are not ASCII: typical of text copied from a browser. */
function isInvisibleSpace(code: number): boolean {
  return (
    code === 0xa0 ||
    (code >= 0x2000 && code <= 0x200b) ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === BYTE_ORDER_MARK
  );
}

export class Lexer {
  readonly notes: LexerNotes = {
    semicolonCount: 0,
    firstSemicolon: undefined,
    invisibleSpaceCount: 0,
    firstInvisibleSpace: undefined,
  };
  readonly #text: string;
  readonly #onError: LexerErrorSink;
  #offset = 0;
  #line = 1;
  #lineStart = 0;
  #nulReported = false;
  /** Offset of the first NUL, found up front so comments need not be scanned for it. */
  readonly #firstNul: number;

  constructor(text: string, onError: LexerErrorSink) {
    this.#text = text;
    this.#onError = onError;
    this.#firstNul = text.indexOf('\0');
    // A UTF-8 byte order mark at the very start is an editor artefact, not content.
    if (text.charCodeAt(0) === BYTE_ORDER_MARK) this.#offset = 1;
  }

  /** The next token, or undefined at the end of the text. */
  next(): Token | undefined {
    for (;;) {
      this.#skipBlanksAndComments();
      if (this.#offset >= this.#text.length) return undefined;
      const token = this.#readToken();
      if (token !== undefined) return token;
    }
  }

  #position(offset: number): Position {
    return { line: this.#line, column: offset - this.#lineStart + 1 };
  }

  #skipBlanksAndComments(): void {
    const text = this.#text;
    while (this.#offset < text.length) {
      const code = text.charCodeAt(this.#offset);
      if (code === NEWLINE) {
        this.#offset++;
        this.#line++;
        this.#lineStart = this.#offset;
      } else if (isAsciiSpace(code)) {
        this.#offset++;
      } else if (code === HASH) {
        const end = text.indexOf('\n', this.#offset);
        const commentEnd = end === -1 ? text.length : end;
        if (this.#firstNul >= this.#offset && this.#firstNul < commentEnd) {
          this.#offset = this.#firstNul;
          this.#reportNul();
        }
        this.#offset = commentEnd;
      } else if (code === NUL) {
        this.#reportNul();
        this.#offset++;
      } else if (isInvisibleSpace(code)) {
        this.#noteInvisibleSpace();
        this.#offset++;
      } else {
        return;
      }
    }
  }

  #reportNul(): void {
    if (this.#nulReported) return;
    this.#nulReported = true;
    this.#onError(
      this.#position(this.#offset),
      'NUL byte in the file: it is binary or corrupted, not an igmpproxy.conf text file',
    );
  }

  #noteInvisibleSpace(): void {
    if (this.notes.invisibleSpaceCount++ === 0) this.notes.firstInvisibleSpace = this.#position(this.#offset);
  }

  /** Reads one token starting at a non-blank character; undefined when it was only `;`. */
  #readToken(): Token | undefined {
    const text = this.#text;
    const start = this.#offset;
    let end = start;
    while (end < text.length) {
      const code = text.charCodeAt(end);
      if (isAsciiSpace(code) || code === HASH || code === NUL || isInvisibleSpace(code)) break;
      end++;
    }
    this.#offset = end;
    const { line, column } = this.#position(start);

    if (end - start > MAX_TOKEN_LENGTH) {
      this.#onError({ line, column }, `this word is ${end - start} characters long; the limit is ${MAX_TOKEN_LENGTH}`);
      return { text: text.slice(start, start + MAX_TOKEN_LENGTH), line, column, poisoned: true };
    }

    const token = text.slice(start, end);
    if (token.includes('\ufffd')) {
      // The loader decodes UTF-8 leniently; a replacement character in a token means the
      // file is in another encoding (latin-1 umlauts) and the word cannot be trusted.
      this.#onError({ line, column }, 'this word contains bytes that are not valid UTF-8; save the file as UTF-8');
      return { text: token, line, column, poisoned: true };
    }

    let kept = end;
    while (kept > start && text.charCodeAt(kept - 1) === SEMICOLON) kept--;
    if (kept < end) {
      if (this.notes.semicolonCount === 0) this.notes.firstSemicolon = this.#position(kept);
      this.notes.semicolonCount++;
    }
    if (kept === start) return undefined;
    return { text: text.slice(start, kept), line, column, poisoned: false };
  }
}
