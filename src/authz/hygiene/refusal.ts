/**
 * The error a hygiene rule throws: a GatehouseError (so the pipeline turns it into a deny like any
 * other) that also carries the rule, the part of the request it concerns, and the rule's status.
 */
import { GatehouseError } from '../../errors.js';
import { HYGIENE_RULES, type HygieneRuleId } from './rules.js';

export class HygieneRefusal extends GatehouseError {
  readonly rule: HygieneRuleId;
  /** Where: "path segment 2", "header x_role", "query", "body"... */
  readonly part: string;
  readonly httpStatus: number;

  constructor(rule: HygieneRuleId, part: string, detail: string) {
    const spec = HYGIENE_RULES[rule];
    super(spec.code, `request hygiene rule ${rule}: ${part} ${detail}`);
    this.rule = rule;
    this.part = part;
    this.httpStatus = spec.status;
  }
}

/** A bounded, printable rendering of an offending value for reasons and logs. */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
