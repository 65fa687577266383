/** A fleet table in the manner of `supervisorctl status`: name, state, pids, uptime, restarts, memory. */
import { formatDuration } from '../core/exit.js';
import type { StatusRow } from '../ops/status.js';

export function statusTable(rows: readonly StatusRow[]): string {
  const table: string[][] = [['NAME', 'STATE', 'PIDS', 'UPTIME', 'RESTARTS', 'MEMORY', 'NOTE']];
  for (const r of rows) {
    table.push([
      r.name,
      r.state,
      r.pids.join(',') || '-',
      r.uptime === null ? '-' : formatDuration(r.uptime * 1000),
      String(r.restarts),
      r.memory === null ? '-' : formatBytes(r.memory),
      r.note,
    ]);
  }
  return formatTable(table);
}

export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** 1536 → "1.5 KiB": binary units, as free(1) and the kernel count. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}
