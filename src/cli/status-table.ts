/** A fleet table in the manner of `supervisorctl status`: name, state, pids, uptime, restarts. */
import { formatDuration } from '../core/exit.js';
import type { Emperor } from '../core/emperor.js';

export function statusTable(emperor: Emperor): string {
  const rows: string[][] = [['NAME', 'STATE', 'PIDS', 'UPTIME', 'RESTARTS', 'NOTE']];
  const now = Date.now();
  for (const v of emperor.vassals.values()) {
    const note = v.configError ? `new config rejected: ${v.configError}` : v.lastExit && v.state === 'backoff' ? 'crash-looping' : '';
    rows.push([v.name, v.state, v.pids.join(',') || '-', formatDuration(now - v.bornAt), String(v.restarts), note]);
  }
  for (const [name, inv] of emperor.invalid) rows.push([name, 'invalid', '-', '-', '0', inv.error]);
  return formatTable(rows);
}

export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}
