/**
 * Character classes the rules test. Each is one precompiled regular expression, so a clean value
 * costs one scan.
 */

/** C0 controls, DEL and C1 controls. */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, tab allowed (RFC 9110 field values may hold HTAB). */
export const CONTROL_BUT_TAB = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
/** U+FFFD: what bytes that were not UTF-8 became when the request was decoded. */
export const REPLACEMENT = '\ufffd';
/** Anything a header value rule looks at: one test for the clean case. */
export const SUSPECT_HEADER_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\ufffd]/;
/** Anything a header name rule looks at. */
export const SUSPECT_HEADER_NAME = /[_\u0000-\u001f\u007f-\u009f\ufffd]/;
const NON_ASCII = /[^\u0000-\u007f]/;
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/**
 * True when Unicode normalisation (NFKC, as backends and file systems apply it) changes `text`,
 * or `text` holds an invisible character such normalisers drop. ASCII text never is.
 */
export function isLookalike(text: string): boolean {
  if (!NON_ASCII.test(text)) return false;
  return text.normalize('NFKC') !== text || INVISIBLE.test(text);
}

/** A control character, shown as a code point in reasons. */
export function describeControl(text: string, pattern: RegExp): string {
  const match = pattern.exec(text);
  const code = match ? match[0].charCodeAt(0) : 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}
