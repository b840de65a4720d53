// Hidden input from the terminal (passwords, key passphrases). Only used when stdin is a TTY;
// secrets are never read from argv or the environment.
import type { ReadStream } from 'node:tty';

export function promptHidden(input: ReadStream, output: NodeJS.WriteStream, question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Echo off before the prompt appears, so an answer typed at once is not shown either.
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    output.write(question);
    input.resume();
    let answer = '';
    const done = (error: Error | null): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(answer);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done(null);
        if (char === '\u0003') return done(new Error('interrupted at the password prompt'));
        if (char === '\u0004') return done(new Error('no password given'));
        if (char === '\u007f' || char === '\b') answer = answer.slice(0, -1);
        else answer += char;
      }
    };
    input.on('data', onData);
  });
}
