import { describe, expect, it } from 'vitest';
import {
  internetChecksum,
  isChecksumValid,
  onesComplementSum,
  writeChecksum,
} from '../../addon/daemon/igmp/checksum.ts';
import { fromHex } from './helpers.ts';

describe('Internet checksum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 section 3', () => {
    // Words 0001 f203 f4f5 f6f7: sum 2ddf0 -> folded ddf2 -> checksum 220d.
    const bytes = fromHex('00 01 f2 03 f4 f5 f6 f7');
    expect(onesComplementSum(bytes)).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero on the right', () => {
    // 0x0102 + 0x0300 = 0x0402 -> checksum 0xfbfd
    expect(internetChecksum(fromHex('01 02 03'))).toBe(0xfbfd);
  });

  it('reproduces a well-known IPv4 header checksum', () => {
    // 192.168.0.1 -> 192.168.0.199 UDP header with checksum b861.
    const header = fromHex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7');
    expect(isChecksumValid(header)).toBe(true);
    const zeroed = header.slice();
    zeroed[10] = 0;
    zeroed[11] = 0;
    expect(internetChecksum(zeroed)).toBe(0xb861);
    header[19] = 0xc6; // was 0xc7
    expect(isChecksumValid(header)).toBe(false);
  });

  it('works on a sub-range and writes the field big-endian', () => {
    const bytes = fromHex('12 34 16 00 00 00 ef 01 01 01 ff');
    writeChecksum(bytes, 4, 2, 10);
    expect(bytes[4]).toBe(0xf9);
    expect(bytes[5]).toBe(0xfc);
    expect(isChecksumValid(bytes, 2, 10)).toBe(true);
    expect(isChecksumValid(bytes, 0, 10)).toBe(false);
  });

  it('treats all-zero data as invalid and its checksum as ffff', () => {
    expect(internetChecksum(new Uint8Array(8))).toBe(0xffff);
    expect(isChecksumValid(new Uint8Array(8))).toBe(false);
  });

  it('folds carries of a maximal 64 KiB buffer', () => {
    const bytes = new Uint8Array(65536).fill(0xff);
    expect(onesComplementSum(bytes)).toBe(0xffff);
    expect(internetChecksum(bytes)).toBe(0);
  });
});
