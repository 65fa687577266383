/**
 * log-alarm / not-log-alarm rules, compiled once into a single RE2 set. RE2 runs in time linear in
 * the line, so no pattern and no line can stall the emperor; one set means one pass per line,
 * whatever the number of rules, and the common case (no rule matches) costs one native call.
 */
import RE2 from 're2';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { LogAlarmRule } from '../config/types.js';

/** Longest prefix of a line the rules look at, whatever the caller feeds in. */
export const DEFAULT_MAX_RULE_LINE = 64 * 1024;

export interface LogRulesOptions {
  /** Characters of a line the rules see; the rest is not matched. */
  maxLineLength?: number;
}

interface Rule {
  alarms: readonly string[];
  negate: boolean;
}

export type RuleHit = (alarms: readonly string[], line: string) => void;

function ruleKey(rule: LogAlarmRule): string {
  return rule.negate ? 'not-log-alarm' : 'log-alarm';
}

/** Validates one pattern on its own, so an error names the pattern and its line. */
function checkPattern(rule: LogAlarmRule): void {
  const key = ruleKey(rule);
  const where = rule.line === undefined ? '' : ` (line ${rule.line})`;
  if (rule.pattern.length === 0) {
    throw new EmperorError(ErrorCodes.CONFIG_INVALID, `${key}${where}: expected "ALARM[,ALARM...] REGEX", got no regular expression`, {
      key,
      line: rule.line,
    });
  }
  try {
    new RE2(rule.pattern);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new EmperorError(
      ErrorCodes.CONFIG_INVALID,
      `${key}${where}: pattern ${JSON.stringify(rule.pattern)} is not a valid RE2 regular expression: ${reason}` +
        ' (RE2 has no backreferences and no lookaround, so that no pattern can run away)',
      { key, line: rule.line, cause: err },
    );
  }
}

export class LogRules {
  private readonly set: InstanceType<typeof RE2.Set>;
  private readonly rules: readonly Rule[];
  private readonly maxLine: number;

  private constructor(set: InstanceType<typeof RE2.Set>, rules: readonly Rule[], maxLine: number) {
    this.set = set;
    this.rules = rules;
    this.maxLine = maxLine;
  }

  /**
   * Compiles the rules in config order. Returns undefined when no rule could ever fire an alarm
   * (no rules, or only not-log-alarm ones), so the caller's hot path can skip matching entirely.
   * Throws EmperorError CONFIG_INVALID naming a pattern RE2 rejects.
   */
  static compile(rules: readonly LogAlarmRule[], opts: LogRulesOptions = {}): LogRules | undefined {
    for (const r of rules) checkPattern(r);
    if (!rules.some((r) => !r.negate)) return undefined;
    const maxLine = opts.maxLineLength ?? DEFAULT_MAX_RULE_LINE;
    if (!Number.isInteger(maxLine) || maxLine < 1) {
      throw new EmperorError(ErrorCodes.USAGE, `log rules: maxLineLength must be a positive integer, got ${String(maxLine)}`);
    }
    let set: InstanceType<typeof RE2.Set>;
    try {
      set = new RE2.Set(rules.map((r) => r.pattern));
    } catch (err) {
      // Each pattern compiled alone; together they can still exceed RE2's memory budget.
      throw new EmperorError(
        ErrorCodes.CONFIG_INVALID,
        `log-alarm: the ${rules.length} patterns together are too large for RE2: ${err instanceof Error ? err.message : String(err)}`,
        { key: 'log-alarm', cause: err },
      );
    }
    return new LogRules(set, rules.map((r) => ({ alarms: r.alarms, negate: r.negate })), maxLine);
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * Calls `hit` for every log-alarm rule that matches `line`, in config order, until a matching
   * not-log-alarm rule stops the evaluation of the later rules (uWSGI's order-sensitive `break`).
   */
  match(line: string, hit: RuleHit): void {
    const seen = line.length > this.maxLine ? line.slice(0, this.maxLine) : line;
    if (!this.set.test(seen)) return;
    const indices = this.set.match(seen);
    if (indices.length > 1) indices.sort((a, b) => a - b);
    for (const i of indices) {
      const rule = this.rules[i];
      if (rule === undefined) continue;
      if (rule.negate) return;
      hit(rule.alarms, seen);
    }
  }
}
