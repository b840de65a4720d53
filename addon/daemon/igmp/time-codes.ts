// The 8-bit "floating point" time codes of IGMPv3 (RFC 3376 4.1.1 Max Resp Code, 4.1.7 QQIC):
// below 128 the code is the value itself; from 128 on it is 1|exp(3)|mant(4) meaning
// (mant | 0x10) << (exp + 3). Max Resp Code counts tenths of a second, QQIC seconds.
// Decoded values rise strictly with the code, so "largest code not above the value" is
// well defined; that is what the encoders pick. A sender should then run its own timers
// on the decoded value (decode(encode(x))), which is what peers will believe.

const FLOAT_THRESHOLD = 128;
/** Largest value a code can express: mant 15, exp 7 -> 31 << 10. */
export const MAX_TIME_CODE_VALUE = 31744;

export function decodeTimeCode(code: number): number {
  const byte = code & 0xff;
  if (byte < FLOAT_THRESHOLD) return byte;
  const exponent = (byte >>> 4) & 0x07;
  const mantissa = byte & 0x0f;
  return (mantissa | 0x10) << (exponent + 3);
}

/** Largest code whose decoded value is <= value; 0 for NaN/negative, 0xff above the range. */
export function encodeTimeCode(value: number): number {
  if (!(value > 0)) return 0;
  const whole = Math.floor(value);
  if (whole < FLOAT_THRESHOLD) return whole;
  for (let exponent = 0; exponent < 8; exponent++) {
    const shift = exponent + 3;
    // Codes with this exponent cover [16 << shift, 32 << shift).
    if (whole < 32 << shift) return 0x80 | (exponent << 4) | ((whole >>> shift) - 16);
  }
  return 0xff;
}

/** Max Resp Code (RFC 3376 4.1.1) for a response time in ms; resolution 100 ms, max 3174.4 s. */
export function encodeMaxRespCode(ms: number): number {
  return encodeTimeCode(ms / 100);
}

/** Max Resp Code to ms. */
export function decodeMaxRespCode(code: number): number {
  return decodeTimeCode(code) * 100;
}

/** QQIC (RFC 3376 4.1.7) for a query interval in seconds; max 31744 s. */
export function encodeQqic(seconds: number): number {
  return encodeTimeCode(seconds);
}

/** QQIC to seconds. */
export function decodeQqic(code: number): number {
  return decodeTimeCode(code);
}
