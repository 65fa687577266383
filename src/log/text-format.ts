/**
 * The readable form of the emperor's events, for terminals: `[12:00:01.234] WARN: app.ini: msg`.
 * A synchronous pino destination, so the last event before exit is never left in a buffer.
 */
import type { DestinationStream } from 'pino';

const COLORS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' };
const RESET = '\x1b[0m';

export function textDestination(out: { write(s: string): unknown }, color: boolean): DestinationStream {
  return {
    write(json: string): void {
      let rec: { level?: string; time?: string; msg?: string; vassal?: string; monitor?: string };
      try {
        rec = JSON.parse(json) as typeof rec;
      } catch {
        out.write(json);
        return;
      }
      const level = (rec.level ?? 'info').toUpperCase();
      const time = rec.time ? new Date(rec.time) : new Date();
      const stamp = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`;
      const lvl = color ? `${COLORS[rec.level ?? 'info'] ?? ''}${level}${RESET}` : level;
      const who = rec.vassal ? `${rec.vassal}: ` : rec.monitor ? `${rec.monitor}: ` : '';
      out.write(`[${stamp}] ${lvl}: ${who}${rec.msg ?? ''}\n`);
    },
  };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
