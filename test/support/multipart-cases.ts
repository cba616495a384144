/**
 * Hostile multipart/form-data bodies and what gatehouse (strict hygiene) makes of each: the fields
 * it reads, or a piece of its refusal. Shared by the busboy differential
 * (test/unit/multipart-hostile.test.ts) and the Go differential
 * (test/integration/multipart-go-differential.test.ts).
 */
export const CT = 'multipart/form-data; boundary=b';
export const part = (name: string | undefined, value: string, extra: string[] = []) =>
  [...(name === undefined ? [] : [`Content-Disposition: form-data; name="${name}"`]), ...extra, '', value].join('\r\n');
export const form = (...parts: string[]) => `--b\r\n${parts.join('\r\n--b\r\n')}\r\n--b--\r\n`;

export interface MultipartCase {
  body: string;
  contentType?: string;
  /** What gatehouse (strict) reads: the fields, or a piece of its refusal. */
  expect: Record<string, unknown[]> | string;
}

export const MULTIPART_CASES: Record<string, MultipartCase> = {
  'a plain form with a JSON part and a multi-line text part': {
    body: form(part('title', 'hello'), part('meta', '{"a":[1]}', ['Content-Type: application/json']), part('notes', 'line 1\r\nline 2', ['Content-Type: text/plain'])),
    expect: { title: ['hello'], meta: [{ a: [1] }], notes: ['line 1\r\nline 2'] },
  },
  'a file part with a filename': {
    body: `--b\r\nContent-Disposition: form-data; name="doc"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\nabc\r\n--b--\r\n`,
    expect: { doc: ['abc'] },
  },
  'a part without a content-disposition (skipped)': { body: form(part(undefined, 'orphan', ['Content-Type: text/plain']), part('a', '1')), expect: { a: ['1'] } },
  'a part with a disposition but no name (skipped)': { body: form(['Content-Disposition: form-data', '', 'orphan'].join('\r\n'), part('a', '1')), expect: { a: ['1'] } },
  'a part with an empty name (skipped)': { body: form(['Content-Disposition: form-data; name=""', '', 'orphan'].join('\r\n'), part('a', '1')), expect: { a: ['1'] } },
  'a nested multipart, kept as the text of its part': {
    body: form(part('inner', '--c\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--c--', ['Content-Type: multipart/mixed; boundary=c'])),
    expect: { inner: ['--c\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--c--'] },
  },
  'a nested multipart that reuses the outer boundary': {
    body: form(part('inner', '--b\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin', ['Content-Type: multipart/mixed; boundary=b'])),
    expect: 'part headers run into the next delimiter', // Go reads inner="" and role=admin, busboy inner=the rest
  },
  'the same name twice (both values, in order)': { body: form(part('role', 'user'), part('role', 'admin')), expect: { role: ['user', 'admin'] } },
  'a preamble ending in CRLF and an epilogue': { body: `This is the preamble.\r\n${form(part('a', '1'))}this is the epilogue\r\n--b\r\n${part('late', 'x')}\r\n--b--\r\n`, expect: { a: ['1'] } },
  'a preamble glued to the first delimiter': { body: `junk${form(part('amount', '1'), part('amount', '1000'))}`, expect: 'first delimiter not at the start of a line' },
  'a close delimiter glued to the preamble, parts after it': { body: `junk--b--\r\n${form(part('role', 'admin'))}`, expect: 'first delimiter not at the start of a line' },
  'the boundary inside content, not after a line break': { body: form(part('a', 'x--b\r\ny')), expect: 'malformed multipart body' },
  'the boundary after CRLF inside content, then more text': { body: form(part('a', 'x\r\n--bogus\r\ny'), part('role', 'admin')), expect: 'delimiter not followed by CRLF' },
  'a delimiter with transport padding': { body: `--b  \r\n${part('a', '1')}\r\n--b--\r\n`, expect: 'delimiter not followed by CRLF' },
  'a close delimiter followed by text': { body: `--b\r\n${part('a', '1')}\r\n--b--junk\r\n`, expect: 'close delimiter not followed by CRLF' },
  'a close delimiter at the very end, without CRLF': { body: `--b\r\n${part('a', '1')}\r\n--b--`, expect: { a: ['1'] } },
  'no close delimiter': { body: `--b\r\n${part('a', '1')}\r\n`, expect: 'missing closing delimiter' },
  'a body cut inside a part': { body: `--b\r\n${part('a', '1')}`, expect: 'malformed multipart body' },
  'LF line ends only': { body: '--b\nContent-Disposition: form-data; name="a"\n\n1\n--b--\n', expect: 'malformed multipart body' },
  'a bare LF inside the part headers': { body: form(['Content-Disposition: form-data; name="a"\nContent-Disposition: form-data; name="role"', '', 'admin'].join('\r\n')), expect: 'bare CR or LF' },
  'a folded (obs-fold) header line': { body: form(['Content-Disposition: form-data;', ' name="a:b"', '', 'v'].join('\r\n')), expect: 'not a token' },
  'a header name with a space before the colon': { body: form(['Content-Disposition : form-data; name="a"', '', 'v'].join('\r\n')), expect: 'not a token' },
  'a header line without a colon': { body: form(['Content-Disposition: form-data; name="a"', 'garbage', '', 'v'].join('\r\n')), expect: 'part header without a name' },
  'a part without a blank line after its headers': { body: '--b\r\nContent-Disposition: form-data; name="a"\r\n--b--\r\n', expect: 'part without a header block' },
  'the content-disposition twice': { body: form(part('safe', 'admin', ['Content-Disposition: form-data; name="role"'])), expect: 'ambiguous_multipart_part' },
  'the name parameter twice': { body: form(['Content-Disposition: form-data; name="safe"; name="role"', '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part' },
  'an RFC 2231 name*': { body: form([`Content-Disposition: form-data; name="safe"; name*=UTF-8''role`, '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part' },
  'a base64 transfer encoding': { body: form(part('a', 'YWRtaW4=', ['Content-Transfer-Encoding: base64'])), expect: 'ambiguous_content_type' },
  'a quoted boundary with a space and "="': {
    body: '--a b=c\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--a b=c--\r\n', contentType: 'multipart/form-data; boundary="a b=c"', expect: { a: ['1'] },
  },
  'a boundary parameter hidden in a quoted value': {
    body: form(part('a', '1')), contentType: 'multipart/form-data; x="; boundary=evil"; boundary=b', expect: { a: ['1'] },
  },
  'a boundary of 71 characters': { body: `--${'x'.repeat(71)}\r\n${part('a', '1')}\r\n--${'x'.repeat(71)}--\r\n`, contentType: `multipart/form-data; boundary=${'x'.repeat(71)}`, expect: 'invalid boundary' },
  'an empty boundary': { body: form(part('a', '1')), contentType: 'multipart/form-data; boundary=""', expect: 'invalid boundary' },
  'the boundary parameter twice': { body: form(part('a', '1')), contentType: 'multipart/form-data; boundary=b; boundary=c', expect: 'repeats a parameter' },
  'more parts than max_multipart_parts': { body: form(...Array.from({ length: 257 }, (_, i) => part(`f${i}`, 'x'))), expect: 'too_many_multipart_parts' },
  'a JSON part that is not JSON': { body: form(part('meta', '{"a":', ['Content-Type: application/json'])), expect: 'multipart part "meta"' },
  // Review (adversarial differential against Go's mime/multipart, compatible mode checked too):
  'U+FEFF before the name parameter (white space to JavaScript, not to Go)': {
    body: form(['Content-Disposition: form-data;\ufeffname="role"', '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part', // Go: invalid, part skipped
  },
  'U+FEFF leading the disposition': { body: form(['Content-Disposition:\ufeffform-data; name="role"', '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part' },
  'U+0085 (NEL) before the name parameter (white space to Go)': {
    body: form(['Content-Disposition: form-data;\u0085name="role"', '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part', // Go: role=admin
  },
  'a form feed ending the disposition (Go refuses the body)': { body: form(['Content-Disposition: form-data; name="role"\f', '', 'admin'].join('\r\n')), expect: 'control character' },
  'a NUL inside a part name (Go refuses the body)': { body: form(['Content-Disposition: form-data; name="ro\u0000le"', '', 'admin'].join('\r\n')), expect: 'control character' },
  'a control character in another part header': { body: form(part('role', 'admin', ['X-Note: a\u0001b'])), expect: 'control character' },
  'the name parameter twice with the same value (Go allows it)': {
    body: form(['Content-Disposition: form-data; name="role"; name=role', '', 'admin'].join('\r\n')), expect: { role: ['admin'] },
  },
  'an RFC 2231 name* whose value holds an apostrophe': { body: form([`Content-Disposition: form-data; name*=utf-8''ro'le`, '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part' },
  'an RFC 2231 name* with raw non-ASCII text': { body: form([`Content-Disposition: form-data; name*=utf-8''r%C3%B4\u00e9le`, '', 'admin'].join('\r\n')), expect: 'ambiguous_multipart_part' },
  'a part content-type Application/JSON (Go: case-sensitive, a string)': { body: form(part('meta', '{"a":1}', ['Content-Type: Application/JSON'])), expect: 'ambiguous_content_type' },
  'a part content-type application/vnd.api+json (Go: a string)': { body: form(part('meta', '{"a":1}', ['Content-Type: application/vnd.api+json'])), expect: 'ambiguous_content_type' },
  'a part content-type naming application/json in a parameter (Go: JSON)': {
    body: form(part('meta', '{"a":1}', ['Content-Type: text/plain; profile="application/json"'])), expect: 'ambiguous_content_type',
  },
  'a part content-type application/json with a charset and spaces': { body: form(part('meta', '{"a":1}', ['Content-Type:  application/json; charset=utf-8 '])), expect: { meta: [{ a: 1 }] } },
  'a quoted-printable part (Go decodes it)': { body: form(part('role', 'ad=\r\nmin', ['Content-Transfer-Encoding: quoted-printable'])), expect: 'ambiguous_content_type' },
  'a part with 10001 headers (Go refuses the body)': {
    body: form(part('a', '1', Array.from({ length: 10_000 }, (_, i) => `X-H${i}: 1`))), expect: 'more than 10000 header lines',
  },
  'U+FEFF after the boundary parameter': { body: form(part('a', '1')), contentType: 'multipart/form-data; boundary=b\ufeff', expect: 'content-type' },
};

