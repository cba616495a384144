/**
 * Hostile multipart/form-data bodies, each read by gatehouse (strict hygiene, the default) and by
 * busboy, the parser behind multer and many Node backends. The property that keeps gatehouse fail
 * closed: a body gatehouse accepts is read by busboy to the same fields. Where they would differ,
 * gatehouse refuses (RFC 7578 / RFC 2046 framing is what both claim to follow). busboy refusing a
 * body gatehouse accepts is harmless: the backend refuses the request.
 */
import busboy from 'busboy';
import { describe, expect, it } from 'vitest';
import { parseBody } from '../../src/authz/body.js';
import { COMPATIBLE, STRICT, hygieneSettings } from '../../src/authz/hygiene/index.js';
import { CT, MULTIPART_CASES, form, part } from '../support/multipart-cases.js';

const limits = (hygiene = STRICT) => ({ maxBodyBytes: 1 << 20, hygiene });
const CASES = MULTIPART_CASES;
type Reading = { fields: Record<string, unknown[]> } | { error: string };

function gatehouse(body: string, contentType = CT, hygiene = STRICT): Reading {
  try {
    return { fields: { ...(parseBody({ 'content-type': contentType }, body, undefined, limits(hygiene)).parsedBody as Record<string, unknown[]>) } };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** busboy's reading: every named part (fields and files) as text; JSON parts parsed, as gatehouse does. */
function backend(body: string, contentType = CT): Promise<Reading> {
  return new Promise((resolve) => {
    const fields: Record<string, unknown[]> = {};
    const add = (name: string | undefined, value: string, mimeType: string) => {
      if (name === undefined) return;
      let parsed: unknown = value;
      if (mimeType === 'application/json') {
        try {
          parsed = JSON.parse(value);
        } catch {
          parsed = { unparsable: value };
        }
      }
      (fields[name] ??= []).push(parsed);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: { 'content-type': contentType }, limits: { fieldSize: Infinity, fields: Infinity, files: Infinity, parts: Infinity }, defParamCharset: 'utf8' });
    } catch (error) {
      resolve({ error: (error as Error).message });
      return;
    }
    parser.on('field', (name, value, info) => add(name, value, info.mimeType));
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => add(name, Buffer.concat(chunks).toString('utf8'), info.mimeType));
    });
    parser.on('error', (error: Error) => resolve({ error: error.message }));
    parser.on('close', () => resolve({ fields }));
    parser.end(Buffer.from(body, 'utf8'));
  });
}

describe('hostile multipart bodies: gatehouse refuses, or reads what busboy reads', () => {
  it.each(Object.entries(CASES))('%s', async (_name, c) => {
    const ours = gatehouse(c.body, c.contentType);
    if (typeof c.expect === 'string') {
      expect(ours).toHaveProperty('error');
      expect((ours as { error: string }).error).toContain(c.expect);
    } else {
      expect(ours).toEqual({ fields: c.expect });
      // Fail closed: what the policy saw is what a busboy backend reads.
      expect(await backend(c.body, c.contentType)).toEqual(ours);
    }
  });

  it('an oversized part header (100 KiB) is read within max_body_bytes; busboy refuses it, which only refuses the request', async () => {
    const body = form(part('a', '1', [`X-Padding: ${'p'.repeat(100 << 10)}`]));
    expect(gatehouse(body)).toEqual({ fields: { a: ['1'] } });
    expect(await backend(body)).toHaveProperty('error');
    expect(() => parseBody({ 'content-type': CT }, body, undefined, { maxBodyBytes: 64 << 10 })).toThrow('over max_body_bytes');
  });

  it('compatible mode refuses the framing and header-line tricks too (only part dispositions are skipped there)', () => {
    for (const name of ['a preamble glued to the first delimiter', 'a bare LF inside the part headers', 'a folded (obs-fold) header line', 'the boundary after CRLF inside content, then more text']) {
      expect(gatehouse(CASES[name]!.body, CT, COMPATIBLE)).toHaveProperty('error');
    }
  });

  it('counts parts against max_multipart_parts as set', () => {
    const few = hygieneSettings('strict', [], { max_multipart_parts: 2 });
    expect(gatehouse(form(part('a', '1'), part('b', '2')), CT, few)).toEqual({ fields: { a: ['1'], b: ['2'] } });
    expect((gatehouse(form(part('a', '1'), part('b', '2'), part('c', '3')), CT, few) as { error: string }).error).toContain('has 3 parts, over max_multipart_parts (2)');
  });
});
