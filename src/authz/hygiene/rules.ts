/**
 * The request-hygiene rules, as data. Each rule refuses one class of request that a backend could
 * read differently than the policy does (docs/input.md#request-hygiene lists them with examples).
 * `strict` (the default mode) turns every rule on; `compatible` turns them all off and gives the
 * input opa-envoy-plugin would give. Limits are always on: each has its own setting.
 *
 * The rule id is the decision log's `gatehouse.hygiene.rule` and the `rule` label of
 * `gatehouse_request_hygiene_refusals_total`, so the set is closed.
 */

export interface HygieneRule {
  /** `request_refused` for a rule, `request_too_large` for a limit. */
  readonly code: 'request_refused' | 'request_too_large';
  /** HTTP status the caller gets. */
  readonly status: 400 | 413 | 414 | 431;
  /** What the rule refuses. */
  readonly refuses: string;
  /** The differential it closes. */
  readonly stops: string;
  /** For limits: the setting that bounds it. */
  readonly limit?: LimitKey;
}

export type LimitKey =
  | 'max_path_bytes'
  | 'max_path_segments'
  | 'max_query_params'
  | 'max_headers'
  | 'max_header_bytes'
  | 'max_header_value_bytes'
  | 'max_form_fields'
  | 'max_multipart_parts';

const rule = (refuses: string, stops: string): HygieneRule => ({ code: 'request_refused', status: 400, refuses, stops });
const limit = (status: 413 | 414 | 431, key: LimitKey, refuses: string, stops: string): HygieneRule => ({
  code: 'request_too_large', status, refuses, stops, limit: key,
});

export const HYGIENE_RULES = {
  invalid_method: rule(
    'a method that is empty, not an RFC 9110 token, has lower-case letters, or differs from :method',
    'an empty method leaves nothing to decide on; "delete" passes a rule on "DELETE" where the backend upper-cases it',
  ),
  invalid_utf8: rule(
    'bytes that are not UTF-8 in the method, path, host, a header name or value (also header_map raw values), or a JSON or form body',
    'the policy sees U+FFFD where the upstream gets the raw byte (0xF1 in a path, 0xFF in a header)',
  ),
  control_character: rule(
    'a control character (U+0000-U+001F, U+007F-U+009F), raw or percent-encoded, in the path, query, host or a header value (tab allowed in header values), or NUL in a JSON or form body',
    '/admin%00 is /admin to C-string backends and file systems; CR/LF and other controls are stripped or split on by some',
  ),
  path_separator_in_segment: rule(
    'a "/", "\\", "?" or "#" inside a path segment: %2F, %5C, %3F, %23 (any case) or a raw backslash',
    '/public/..%2Fadmin and /public/..%5Cadmin are /admin to backends that decode separators or treat "\\" as "/"; /admin%3F.css is /admin to a proxy that decodes before forwarding',
  ),
  double_encoding: rule(
    'a path segment that still holds a percent-escape after decoding (%252F, %252e)',
    'backends that decode twice see the separator or dot segment the policy saw as text',
  ),
  path_parameters: rule(
    'a ";" in a path segment, raw or as %3B (allow it with request_hygiene_allow: [path_parameters])',
    '/admin;jsessionid=1 is /admin to servlet containers and Spring, which strip path parameters',
  ),
  trailing_dot_or_space: rule(
    'a path segment that ends in "." or whitespace, or starts with whitespace (raw or encoded)',
    '/admin. and /admin%20 are /admin to servers and file systems that trim them (IIS, Windows, some routers)',
  ),
  empty_path_segment: rule(
    'an empty path segment ("//") anywhere but at the end (a trailing "/" is fine)',
    '/api//admin is /api/admin to Tomcat, Spring and nginx (merge_slashes), while the policy sees ["api", "", "admin"]',
  ),
  unicode_lookalike: rule(
    'a path segment that Unicode NFKC normalisation changes (fullwidth "/", "．", ligatures) or that holds an invisible default-ignorable character',
    '/public%EF%BC%8F..%EF%BC%8Fadmin is /public/../admin to backends that normalise Unicode',
  ),
  unicode_lookalike_query: rule(
    'the same in a query key or value (a rule of its own: search terms in fullwidth or halfwidth forms, or with "™", are legitimate and may need it off)',
    '?role=%EF%BD%81dmin is role=admin to backends that normalise query values',
  ),
  query_separator: rule(
    'a raw ";" in the query string or a form body',
    '?role=user;role=admin has a second role=admin for backends that split on ";"',
  ),
  bracketed_parameter_name: rule(
    'a "[" or "]" in a query key, form field name or multipart field name, raw or percent-encoded',
    '?role[]=admin and ?role%5B0%5D=admin are role=admin to PHP, Rails and qs (Express), while the policy sees the key "role[]"',
  ),
  underscore_header: rule(
    'a header name with "_" (in headers or header_map)',
    'x_role: admin is x-role: admin to nginx, CGI/WSGI/PHP and others that fold "_" and "-"',
  ),
  method_override: rule(
    'x-http-method-override, x-http-method or x-method-override headers, or a _method query parameter, form field, multipart field or top-level JSON body key',
    'POST /public with x-http-method-override: DELETE is a DELETE to frameworks that honour the override',
  ),
  url_override: rule(
    'x-original-url or x-rewrite-url headers',
    'IIS and Symfony route by these headers instead of the path the policy saw',
  ),
  host_not_canonical: rule(
    'a host that is not in canonical form (upper case, trailing dot, default or empty port, userinfo, non-ASCII or invalid characters), or host, :authority and a host header that disagree',
    'ADMIN.example.com, admin.example.com. and admin.example.com:443 are admin.example.com to every backend',
  ),
  json_duplicate_key: rule(
    'a JSON body or JSON multipart part with the same key twice in one object, keys compared as Go\'s encoding/json does (case-insensitively, with Unicode simple case folding)',
    '{"role":"admin","role":"user"} is "user" to the policy (the last wins) and "admin" to parsers that keep the first; {"amount":50,"Amount":100000} is 100000 to a Go backend',
  ),
  ambiguous_content_type: rule(
    'a content-type that is not exactly one valid media type, has a parameter whose value holds a "/" (URIs in JSON ext/profile and a multipart boundary excepted, unless they name a parsed media type), a duplicate parameter, or a charset other than UTF-8 on a parsed body; a multipart part with a content-transfer-encoding',
    'content-type: application/x-www-form-urlencoded; x=application/json was parsed as JSON by the policy and as a form by the backend; a UTF-16 charset is read differently',
  ),
  ambiguous_multipart_part: rule(
    'a multipart part with a header twice, a content-disposition that is invalid, not form-data, repeats a parameter, has an RFC 2231 name* or filename*, a backslash, or a ";" inside a quoted value',
    'name="safe"; name="role", two content-disposition lines, name*=UTF-8\'\'role: "role" to Werkzeug, "safe" or no field to other parsers',
  ),
  path_too_long: limit(414, 'max_path_bytes', 'a request target (path and query) longer than max_path_bytes', 'a 64 KiB path costs parsing time before any decision'),
  too_many_path_segments: limit(414, 'max_path_segments', 'more path segments than max_path_segments', '10,000 segments cost parsing and policy time'),
  too_many_query_params: limit(414, 'max_query_params', 'more query parameters ("&"-separated pairs) than max_query_params', 'hash-flooding and parsing cost'),
  too_many_headers: limit(431, 'max_headers', 'more headers (or header_map entries) than max_headers', '200 headers of 8 KiB cost copying and policy time'),
  headers_too_large: limit(431, 'max_header_bytes', 'header names and values totalling more than max_header_bytes', 'megabytes of headers in every Check'),
  header_value_too_long: limit(431, 'max_header_value_bytes', 'one header value longer than max_header_value_bytes', 'one huge header in every Check'),
  too_many_form_fields: limit(413, 'max_form_fields', 'a form body with more fields than max_form_fields', '100,000 form fields cost 0.6 s of parsing'),
  too_many_multipart_parts: limit(413, 'max_multipart_parts', 'a multipart body with more parts than max_multipart_parts', '10,000 parts cost parsing time'),
} as const satisfies Record<string, HygieneRule>;

export type HygieneRuleId = keyof typeof HYGIENE_RULES;

export const HYGIENE_RULE_IDS = Object.keys(HYGIENE_RULES) as HygieneRuleId[];

/** The rules `request_hygiene_allow` may switch off (limits have their own settings). */
export const SWITCHABLE_RULE_IDS = HYGIENE_RULE_IDS.filter((id) => HYGIENE_RULES[id].limit === undefined);
