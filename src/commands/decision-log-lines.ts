/**
 * Reading decision-log files (one JSON event per line, as observability/decision-log.ts writes
 * them) for the offline commands that work from logs: `replay` and `learn`.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GatehouseError, describeThrown } from '../errors.js';

/** The parts of a decision-log event the offline commands read; everything else is passed through untyped. */
export interface LoggedDecision {
  decision_id?: unknown;
  timestamp?: unknown;
  /** The input document as logged (masked values are the string "[masked]"). */
  input: Record<string, unknown> & { attributes?: { request?: { http?: { method?: unknown; path?: unknown } } } };
  gatehouse: {
    /** The policy's outcome ("allow" or "deny"), even in dry-run. */
    outcome: string;
    reason_code?: unknown;
    source_principal?: unknown;
    /** Set on every line of a server running with dry_run. */
    dry_run?: unknown;
    /** "allow" when dry-run answered a deny with allow. */
    enforced?: unknown;
    /** decision_log_allow_sample_percent, on every line of a server sampling allows. */
    allow_sample_percent?: unknown;
    hygiene?: unknown;
  };
}

/** One line of a decision log: the event, or undefined for a blank line or one that is not a decision with an input. */
export interface DecisionLogLine {
  file: string;
  /** 1-based. */
  line: number;
  text: string;
  event: LoggedDecision | undefined;
  /**
   * For a decision-log line without an input (a request refused before the input was built:
   * request hygiene, a malformed request), its `gatehouse` section.
   */
  withoutInput?: LoggedDecision['gatehouse'];
}

/**
 * A decision-log line parsed: undefined when it is not JSON, or has no `input` object or no
 * `gatehouse.outcome` (lines the server wrote with a log_error, or other programs' lines).
 */
export function parseDecisionLine(text: string): LoggedDecision | undefined {
  if (text.trim() === '') return undefined;
  try {
    const event = JSON.parse(text) as Partial<LoggedDecision> | null;
    if (!event || typeof event !== 'object' || !event.input || typeof event.input !== 'object' || Array.isArray(event.input)) return undefined;
    if (!event.gatehouse || typeof event.gatehouse !== 'object' || typeof event.gatehouse.outcome !== 'string') return undefined;
    return event as LoggedDecision;
  } catch {
    return undefined;
  }
}

/** The `gatehouse` section of a decision-log line that has no input, else undefined. */
function gatehouseSection(text: string): LoggedDecision['gatehouse'] | undefined {
  try {
    const line = JSON.parse(text) as { gatehouse?: unknown } | null;
    const g = line?.gatehouse as LoggedDecision['gatehouse'] | undefined;
    return g && typeof g === 'object' && typeof g.outcome === 'string' ? g : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every line of `files` in order ("-" is standard input; a name ending in .gz is gunzipped). A
 * file that cannot be opened, read or gunzipped throws a usage error naming it (exit 2), before
 * or during the lines, never a stack trace.
 */
export async function* readDecisionLogs(files: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<DecisionLogLine> {
  for (const file of files) {
    let input: NodeJS.ReadableStream;
    if (file === '-') {
      input = stdin;
    } else {
      // Opened first, so a missing or unreadable file (or a directory) is named at once.
      let handle;
      try {
        handle = await open(file, 'r');
        if ((await handle.stat()).isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      } catch (error) {
        await handle?.close();
        throw new GatehouseError('usage', `cannot read ${file}: ${describeThrown(error)}`);
      }
      // Rotated logs are often gzipped (logrotate's compress): read them as they are.
      // (pipeline hands a read error on to the gunzip stream, which readline then reports.)
      input = file.endsWith('.gz') ? pipeline(handle.createReadStream(), createGunzip(), () => undefined) : handle.createReadStream();
    }
    const lines = createInterface({ input, crlfDelay: Infinity });
    let number = 0;
    try {
      for await (const text of lines) {
        number++;
        const event = parseDecisionLine(text);
        yield event || text.trim() === '' ? { file, line: number, text, event } : { file, line: number, text, event, withoutInput: gatehouseSection(text) };
      }
    } catch (error) {
      throw new GatehouseError('usage', `cannot read ${file}: ${describeThrown(error)}`);
    }
  }
}
