/**
 * Hygiene of the decoded path segments and query: what each segment and query value means after
 * the one percent-decoding gatehouse did, and what a backend that decodes again, strips path
 * parameters, trims, or normalises Unicode would make of it.
 */
import { quote, HygieneRefusal } from './refusal.js';
import type { HygieneRuleId } from './rules.js';
import type { HygieneSettings } from './settings.js';
import { CONTROL, describeControl, isLookalike, REPLACEMENT } from './text.js';

/** One test for the clean case: anything a segment rule looks at. */
const SUSPECT_SEGMENT = /[/\\;?#%.\s\u0000-\u001f\u007f-\u009f\u00a0-\uffff]/;
/** Delimiters of a URL path, found inside one decoded segment. */
const DELIMITER = /[/\\?#]/;
const ESCAPE = /%[0-9a-fA-F]{2}/;
const EDGE_SPACE = /^\s|[.\s]$/;
const BRACKET = /[[\]]/;

export function screenPath(segments: readonly string[], settings: HygieneSettings): void {
  const on = settings.on;
  if (on.size === 0) return;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment === '') {
      // "/api//admin" is /api/admin to Tomcat, Spring, nginx (merge_slashes) and Envoy with
      // merge_slashes; a trailing "/" (the last segment empty) is an ordinary directory URL.
      if (i < segments.length - 1 && on.has('empty_path_segment')) {
        throw new HygieneRefusal('empty_path_segment', `path segment ${i + 1}`, 'is empty ("//"), which servers that merge slashes drop');
      }
      continue;
    }
    if (!SUSPECT_SEGMENT.test(segment)) continue;
    const part = `path segment ${i + 1}`;
    const refuse = (rule: HygieneRuleId, why: string): void => {
      if (on.has(rule)) throw new HygieneRefusal(rule, part, `${quote(segment)} ${why}`);
    };
    if (segment.includes(REPLACEMENT)) refuse('invalid_utf8', 'is not UTF-8');
    if (CONTROL.test(segment)) refuse('control_character', `holds control character ${describeControl(segment, CONTROL)}`);
    if (DELIMITER.test(segment)) refuse('path_separator_in_segment', 'holds a "/", "\\", "?" or "#" (encoded or raw) that backends may read as a delimiter');
    if (ESCAPE.test(segment)) refuse('double_encoding', 'still holds a percent-escape after decoding');
    if (segment.includes(';')) refuse('path_parameters', 'holds ";" path parameters, which servlet containers strip');
    if (EDGE_SPACE.test(segment)) refuse('trailing_dot_or_space', 'ends in "." or whitespace, or starts with whitespace, which some servers trim');
    if (isLookalike(segment)) refuse('unicode_lookalike', 'changes under Unicode normalisation or holds an invisible character');
  }
}

/** `rawQuery` is the undecoded query string; `query` its parse. `what` is "query" or "form body". */
export function screenQuery(rawQuery: string, query: Record<string, string[]>, settings: HygieneSettings, what: 'query' | 'form body'): void {
  const on = settings.on;
  if (on.size === 0) return;
  if (on.has('query_separator') && rawQuery.includes(';')) {
    // Query and form values are not quoted into reasons: they may hold tokens, and a refused
    // request's input is not in the decision log where decision_log_mask would apply.
    throw new HygieneRefusal('query_separator', what, 'holds a raw ";", a pair separator to some backends');
  }
  // A body may carry text with line breaks; only NUL is refused there.
  const control = what === 'query' ? CONTROL : /\u0000/;
  for (const key in query) {
    if (key.length === 7 && on.has('method_override') && key.toLowerCase() === '_method') {
      throw new HygieneRefusal('method_override', `${what} parameter "_method"`, `overrides the method with ${quote(query[key]!.join(','))}`);
    }
    if (on.has('bracketed_parameter_name') && BRACKET.test(key)) {
      throw new HygieneRefusal('bracketed_parameter_name', `${what} key ${quote(key)}`, 'has "[" or "]", which PHP, Rails and qs turn into a nested or array parameter');
    }
    checkText(key, what, 'key', key, control, settings);
    for (const value of query[key]!) checkText(value, what, 'parameter', key, control, settings);
  }
}

/** Controls and anything non-ASCII: one test for the clean case. */
const SUSPECT_TEXT = /[\u0000-\u001f\u007f-\uffff]/;

/** `text` is the key or a value of the parameter `key`; the part is named only when refused. */
function checkText(text: string, what: 'query' | 'form body', role: 'key' | 'parameter', key: string, control: RegExp, settings: HygieneSettings): void {
  if (!SUSPECT_TEXT.test(text)) return;
  const on = settings.on;
  const part = `${what} ${role} ${quote(key)}`;
  if (on.has('invalid_utf8') && text.includes(REPLACEMENT)) throw new HygieneRefusal('invalid_utf8', part, 'is not UTF-8');
  if (on.has('control_character') && control.test(text)) throw new HygieneRefusal('control_character', part, `holds control character ${describeControl(text, control)}`);
  if (what === 'query' && on.has('unicode_lookalike_query') && isLookalike(text)) {
    throw new HygieneRefusal('unicode_lookalike_query', part, 'changes under Unicode normalisation or holds an invisible character');
  }
}
