// IPFire's KEY=VALUE settings files (/var/ipfire/*/settings), read the way IPFire's boot
// scripts read them, so `igmpproxy setup` sees what IPFire's networking sees.
//
// The rules follow IPFire's readhash (src/scripts/readhash and the bash readhash() in
// src/initscripts/system/functions of ipfire/ipfire-2.x): blank lines and lines starting
// with # are skipped, surrounding blanks are dropped, a key is [A-Za-z_][A-Za-z0-9_]*,
// a value is [A-Za-z0-9=/,.:%_@#+-]* or the same plus spaces between single quotes. Any
// other line is ignored by IPFire too, so it is ignored here, and reported.
// Pure: text in, values out; reading the file is the caller's job (setup/read-root.ts).

/** IPFire's paths, relative to the appliance's root. */
export const IPFIRE_FILES = {
  ethernet: '/var/ipfire/ethernet/settings',
  ppp: '/var/ipfire/ppp/settings',
} as const;

/** A real settings file is well under 4 KiB; anything far bigger is not one. */
export const MAX_SETTINGS_BYTES = 64 * 1024;

export interface IgnoredLine {
  readonly line: number;
  /** Why IPFire ignores it, in the words of IPFire's readhash(). */
  readonly reason: string;
}

export interface SettingsFile {
  /** The path as IPFire knows it (without --root), for messages. */
  readonly path: string;
  readonly values: ReadonlyMap<string, string>;
  readonly ignored: readonly IgnoredLine[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_]*=/;
const PLAIN_VALUE = /^[A-Za-z0-9=/,.:%_@#+-]*$/;
const QUOTED_VALUE = /^'[ A-Za-z0-9=/,.:%_@#+-]*'$/;

export function parseSettings(text: string, path: string): SettingsFile {
  const values = new Map<string, string>();
  const ignored: IgnoredLine[] = [];
  const lines = text.split('\n');
  // A final newline does not start another line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    // bash's `read -r` drops leading and trailing spaces and tabs (not a CR).
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (line === '' || line.startsWith('#')) return;
    if (!KEY.test(line)) {
      ignored.push({ line: index + 1, reason: `invalid line '${printable(line)}'` });
      return;
    }
    const equals = line.indexOf('=');
    const key = line.slice(0, equals);
    const value = line.slice(equals + 1);
    if (QUOTED_VALUE.test(value)) values.set(key, value.slice(1, -1));
    else if (PLAIN_VALUE.test(value)) values.set(key, value);
    else ignored.push({ line: index + 1, reason: `invalid value '${printable(value)}' for key '${key}'` });
  });
  return { path, values, ignored };
}

/** The value of a key, '' when the file does not set it (as a shell variable would be). */
export function setting(file: SettingsFile, key: string): string {
  return file.values.get(key) ?? '';
}

/** Settings text ends up in messages: no control characters on the terminal, bounded. */
export function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}
