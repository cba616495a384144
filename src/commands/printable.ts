/**
 * Values from decision logs (paths, reasons, principals) printed to a terminal by the offline
 * commands (`learn`, `replay`). A server with request hygiene off (`request_hygiene: compatible`)
 * logs whatever a caller sent, decoded: an escape sequence would drive the reader's terminal, a
 * newline would forge a line of the review, a bidi override would reorder what is shown.
 */

/** C0 and C1 controls (newline and tab too), DEL, and the Unicode bidi controls. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `value` with every control or bidi character written as a \uXXXX escape; anything else as it is. */
export function printable(value: string): string {
  return value.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
