/**
 * The hostile multipart bodies (test/support/multipart-cases.ts) read by Go's mime/multipart the
 * way opa-envoy-plugin reads them (envoyauth/request.go: mime.ParseMediaType for the boundary,
 * NextPart, Part.FormName, parts without a name skipped, a part whose Content-Type contains
 * `application/json` decoded as JSON). Every body gatehouse accepts (strict hygiene, and
 * compatible mode, whose input is opa-envoy-plugin's) must give the same fields under Go; the rest
 * gatehouse refuses. Needs the Go toolchain (./dev setup uses it to install OPA).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBody } from '../../src/authz/body.js';
import { COMPATIBLE, STRICT } from '../../src/authz/hygiene/index.js';
import { CT, MULTIPART_CASES, form } from '../support/multipart-cases.js';
import { buildGoProgram, goOrSkip } from '../support/go.js';

const GO_READER = `package main

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"strings"
)

type input struct {
	Body        string \`json:"body"\`
	ContentType string \`json:"contentType"\`
}

func read(in input) map[string]any {
	_, params, err := mime.ParseMediaType(in.ContentType)
	if _, ok := params["boundary"]; err == nil && !ok {
		return map[string]any{"fields": nil} // opa-envoy-plugin: no boundary, parsed_body null
	}
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	reader := multipart.NewReader(strings.NewReader(in.Body), params["boundary"])
	fields := map[string][]any{}
	for {
		p, err := reader.NextPart()
		if err == io.EOF {
			return map[string]any{"fields": fields}
		}
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		value, err := io.ReadAll(p)
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		if strings.Contains(p.Header.Get("Content-Type"), "application/json") {
			var parsed any
			if err := json.Unmarshal(value, &parsed); err != nil {
				return map[string]any{"error": err.Error()}
			}
			fields[name] = append(fields[name], parsed)
		} else {
			fields[name] = append(fields[name], string(value))
		}
	}
}

func main() {
	var inputs []input
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		panic(err)
	}
	out := []map[string]any{}
	for _, in := range inputs {
		out = append(out, read(in))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
`;


const { go, skip } = goOrSkip();

describe.skipIf(skip !== false)('hostile multipart bodies: gatehouse refuses, or reads what Go (opa-envoy-plugin) reads', () => {
  let dir = '';
  let goReadings: Record<string, unknown> = {};
  const entries = Object.entries(MULTIPART_CASES);

  beforeAll(() => {
    dir = path.dirname(buildGoProgram(go, 'multipartreader', GO_READER));
    const binary = path.join(dir, 'reader');
    expect(existsSync(binary)).toBe(true);
    const out = execFileSync(binary, { input: JSON.stringify(entries.map(([, c]) => ({ body: c.body, contentType: c.contentType ?? CT }))) });
    const readings = JSON.parse(out.toString('utf8')) as unknown[];
    goReadings = Object.fromEntries(entries.map(([name], i) => [name, readings[i]]));
  }, 120_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const read = (body: string, contentType: string, hygiene = STRICT): unknown => {
    try {
      return { fields: { ...(parseBody({ 'content-type': contentType }, body, undefined, { maxBodyBytes: 1 << 20, hygiene }).parsedBody as object) } };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };

  it.each(entries)('%s', (name, c) => {
    const ours = read(c.body, c.contentType ?? CT);
    if (typeof c.expect === 'string') {
      expect(ours).toHaveProperty('error');
    } else {
      expect(ours).toEqual({ fields: c.expect });
      expect(goReadings[name]).toEqual(ours);
    }
  });

  it.each(entries)('compatible mode: %s', (name, c) => {
    const ours = read(c.body, c.contentType ?? CT, COMPATIBLE);
    if (!(ours as object).hasOwnProperty('error')) expect(goReadings[name]).toEqual(ours);
  });

  it('a part with 10000 headers (Go\'s limit) is read by both; 10001 is refused (Go refuses the body)', () => {
    const body = (count: number) => form(['Content-Disposition: form-data; name="a"', ...Array.from({ length: count - 1 }, (_, i) => `X-H${i}: 1`), '', '1'].join('\r\n'));
    const go = JSON.parse(execFileSync(path.join(dir, 'reader'), { input: JSON.stringify([10_000, 10_001].map((n) => ({ body: body(n), contentType: CT }))) }).toString('utf8')) as unknown[];
    expect(read(body(10_000), CT)).toEqual({ fields: { a: ['1'] } });
    expect(go[0]).toEqual({ fields: { a: ['1'] } });
    expect(read(body(10_001), CT)).toHaveProperty('error');
    expect(go[1]).toEqual({ error: 'multipart: message too large' });
  });

  it('Go reads some refused bodies differently from gatehouse\'s old reading (why they are refused)', () => {
    // The old parser read ["1", "1000"] here; Go (and busboy) read only the part after a line-start delimiter.
    expect(goReadings['a preamble glued to the first delimiter']).toEqual({ fields: { amount: ['1000'] } });
    // Go: an empty part and then "role"; busboy: one part whose content is the rest.
    expect(goReadings['a nested multipart that reuses the outer boundary']).toEqual({ fields: { inner: [''], role: ['admin'] } });
    // Go ends a header line at a bare LF: the part is "a"; the old parser skipped the part.
    expect(goReadings['a bare LF inside the part headers']).toEqual({ fields: { a: ['admin'] } });
  });
});
