import { describe, expect, it } from 'vitest';
import {
  decodeMaxRespCode,
  decodeQqic,
  decodeTimeCode,
  encodeMaxRespCode,
  encodeQqic,
  encodeTimeCode,
  MAX_TIME_CODE_VALUE,
} from '../../addon/daemon/igmp/time-codes.ts';

describe('IGMPv3 floating-point time codes (RFC 3376 4.1.1, 4.1.7)', () => {
  it('decodes the hand-computed examples', () => {
    // 1|exp|mant -> (mant | 0x10) << (exp + 3)
    expect(decodeTimeCode(0x00)).toBe(0);
    expect(decodeTimeCode(0x64)).toBe(100);
    expect(decodeTimeCode(0x7f)).toBe(127);
    expect(decodeTimeCode(0x80)).toBe(128); // 16 << 3
    expect(decodeTimeCode(0x8f)).toBe(248); // 31 << 3
    expect(decodeTimeCode(0x90)).toBe(256); // 16 << 4
    expect(decodeTimeCode(0xa5)).toBe(21 << 5); // exp 2, mant 5 = 672
    expect(decodeTimeCode(0xff)).toBe(31744); // 31 << 10
    expect(decodeMaxRespCode(0x80)).toBe(12_800);
    expect(decodeMaxRespCode(0x64)).toBe(10_000);
    expect(decodeQqic(0x7d)).toBe(125);
    expect(decodeQqic(0x80)).toBe(128);
  });

  it('encodes to the largest code not above the value', () => {
    expect(encodeMaxRespCode(10_000)).toBe(0x64);
    expect(encodeMaxRespCode(12_700)).toBe(0x7f);
    expect(encodeMaxRespCode(12_800)).toBe(0x80);
    expect(encodeMaxRespCode(12_900)).toBe(0x80); // 129 tenths: 128 is the nearest below
    expect(encodeMaxRespCode(13_600)).toBe(0x81); // 136 = 17 << 3
    expect(encodeMaxRespCode(25_000)).toBe(0x8f); // 250 -> 248
    expect(encodeMaxRespCode(25_600)).toBe(0x90);
    expect(encodeMaxRespCode(99)).toBe(0);
    expect(encodeMaxRespCode(3_174_400)).toBe(0xff);
    expect(encodeMaxRespCode(1e12)).toBe(0xff);
    expect(encodeQqic(125)).toBe(0x7d);
    expect(encodeQqic(300)).toBe(0x92); // 300 -> 288 = 18 << 4
  });

  it('maps nonsense inputs to 0 and infinity to the maximum', () => {
    expect(encodeTimeCode(Number.NaN)).toBe(0);
    expect(encodeTimeCode(-5)).toBe(0);
    expect(encodeTimeCode(Number.POSITIVE_INFINITY)).toBe(0xff);
  });

  it('is strictly increasing and encode inverts decode for all 256 codes', () => {
    for (let code = 0; code < 256; code++) {
      const value = decodeTimeCode(code);
      if (code > 0) expect(value).toBeGreaterThan(decodeTimeCode(code - 1));
      expect(encodeTimeCode(value)).toBe(code);
      expect(decodeTimeCode(encodeTimeCode(decodeTimeCode(code)))).toBe(value);
      expect(decodeMaxRespCode(encodeMaxRespCode(decodeMaxRespCode(code)))).toBe(decodeMaxRespCode(code));
      expect(decodeQqic(encodeQqic(decodeQqic(code)))).toBe(decodeQqic(code));
    }
  });

  it('never encodes above the value and never skips a closer code', () => {
    for (let value = 0; value <= MAX_TIME_CODE_VALUE + 100; value += 7) {
      const code = encodeTimeCode(value);
      expect(decodeTimeCode(code)).toBeLessThanOrEqual(value);
      if (code < 0xff) expect(decodeTimeCode(code + 1)).toBeGreaterThan(value);
    }
  });
});
