/**
 * log-alarm / not-log-alarm rules, compiled once into a single RE2 set. RE2 runs in time linear in
 * the line, so no pattern and no line can stall the emperor; one set means one pass per line,
 * whatever the number of rules. Lines are matched as their UTF-8 bytes, which RE2 reads as they
 * are (a string would be encoded again on every call); text is decoded only for a line that fires.
 *
 * A block of lines read together is first tested as a whole, by the same patterns in multi-line
 * mode (^ and $ at every line's start and end): a line's match is also a match in any block that
 * holds the line, so a block without a match has no matching line, and the common case costs one
 * native call per read. A block that matches is halved until its matching lines are found, and
 * those are matched alone, with the exact single-line semantics.
 */
import RE2 from 're2';
import { forEachLine, type LineBlock } from '../core/line-splitter.js';
import { EmperorError, ErrorCodes } from '../errors.js';
import type { LogAlarmRule } from '../config/types.js';

/** Longest prefix of a line the rules look at, whatever the caller feeds in. */
export const DEFAULT_MAX_RULE_LINE = 64 * 1024;

export interface LogRulesOptions {
  /** Bytes of a line the rules see (cut on a character boundary); the rest is not matched. */
  maxLineLength?: number;
}

/** Blocks this small are matched line by line rather than halved again. */
const SMALL_BLOCK_BYTES = 1024;

/**
 * Patterns whose meaning a block would change: \A and \z (start and end of the whole text), and
 * flags that turn multi-line mode off. Deliberately broad: a false alarm here costs speed only.
 */
const BLOCK_UNSAFE = /\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m/;

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

type Re2Set = InstanceType<typeof RE2.Set>;

export class LogRules {
  private readonly set: Re2Set;
  /** The same patterns in multi-line mode, for whole blocks; undefined when that is not exact. */
  private readonly blockSet: Re2Set | undefined;
  private readonly rules: readonly Rule[];
  private readonly maxLine: number;

  private constructor(set: Re2Set, blockSet: Re2Set | undefined, rules: readonly Rule[], maxLine: number) {
    this.set = set;
    this.blockSet = blockSet;
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
    let set: Re2Set;
    let blockSet: Re2Set | undefined;
    try {
      set = new RE2.Set(rules.map((r) => r.pattern));
      if (!rules.some((r) => BLOCK_UNSAFE.test(r.pattern))) blockSet = new RE2.Set(rules.map((r) => r.pattern), 'm');
    } catch (err) {
      // Each pattern compiled alone; together they can still exceed RE2's memory budget.
      throw new EmperorError(
        ErrorCodes.CONFIG_INVALID,
        `log-alarm: the ${rules.length} patterns together are too large for RE2: ${err instanceof Error ? err.message : String(err)}`,
        { key: 'log-alarm', cause: err },
      );
    }
    return new LogRules(set, blockSet, rules.map((r) => ({ alarms: r.alarms, negate: r.negate })), maxLine);
  }

  get size(): number {
    return this.rules.length;
  }

  /**
   * Calls `hit` for every log-alarm rule that matches `line`, in config order, until a matching
   * not-log-alarm rule stops the evaluation of the later rules (uWSGI's order-sensitive `break`).
   */
  match(line: string, hit: RuleHit): void {
    this.matchBytes(Buffer.from(line, 'utf8'), hit);
  }

  /** `match` for a line given as UTF-8 bytes (without its newline). */
  matchBytes(line: Buffer, hit: RuleHit): void {
    const seen = line.length > this.maxLine ? line.subarray(0, charStart(line, this.maxLine)) : line;
    if (!this.set.test(seen)) return;
    const indices = this.set.match(seen);
    if (indices.length > 1) indices.sort((a, b) => a - b);
    let text: string | undefined;
    for (const i of indices) {
      const rule = this.rules[i];
      if (rule === undefined) continue;
      if (rule.negate) return;
      hit(rule.alarms, (text ??= seen.toString('utf8')));
    }
  }

  /** `matchBytes` for every line of a block, in order. */
  matchBlock(block: LineBlock, hit: RuleHit): void {
    if (this.blockSet === undefined) this.eachLine(block, 0, block.length, hit);
    else this.narrow(this.blockSet, block, 0, block.length, hit);
  }

  /** Halves block[start, end) (whole lines) until the parts that match are small, then goes line by line. */
  private narrow(blockSet: Re2Set, block: LineBlock, start: number, end: number, hit: RuleHit): void {
    if (!blockSet.test(block.subarray(start, end))) return;
    const mid = end - start > SMALL_BLOCK_BYTES ? block.indexOf(10, start + ((end - start) >> 1)) + 1 : 0;
    if (mid <= start || mid >= end) {
      this.eachLine(block, start, end, hit);
      return;
    }
    this.narrow(blockSet, block, start, mid, hit);
    this.narrow(blockSet, block, mid, end, hit);
  }

  private eachLine(block: LineBlock, start: number, end: number, hit: RuleHit): void {
    const part = start === 0 && end === block.length ? block : block.subarray(start, end);
    forEachLine(part, (s, e) => this.matchBytes(part.subarray(s, e), hit));
  }
}

/** The start of the character holding byte `i` (UTF-8 continuation bytes are 10xxxxxx). */
function charStart(bytes: Buffer, i: number): number {
  while (i > 0 && ((bytes[i] ?? 0) & 0xc0) === 0x80) i--;
  return i;
}
