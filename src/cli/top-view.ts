/**
 * One frame of `emperor top`, as plain lines cut to the terminal's size: a fleet summary, one row
 * per vassal (state, pids, CPU % over the last interval, memory, uptime, restarts, alarms, what is
 * wrong) and the most recent alarms. CPU % comes from two samples of the vassals' CPU time.
 */
import { formatDuration } from '../core/exit.js';
import type { RecentAlarm } from '../ops/alarm-summary.js';
import type { StatusResult, StatusRow } from '../ops/status.js';
import { formatBytes, formatTable } from './status-table.js';

export type TopSort = 'name' | 'cpu' | 'mem' | 'restarts';

export interface TopRow extends StatusRow {
  /** Of one core, over the last interval; null without a comparable earlier sample. */
  cpuPercent: number | null;
}

export function withCpu(prev: StatusResult | undefined, cur: StatusResult): TopRow[] {
  const before = new Map((prev?.rows ?? []).map((r) => [r.name, r]));
  const span = prev ? (cur.time - prev.time) / 1000 : 0;
  return cur.rows.map((r) => {
    const p = before.get(r.name);
    const delta = p ? r.cpu - p.cpu : NaN;
    // Between the moments the figures were read (they may be older than the answers); none for a
    // row not measured yet (null); an emperor that does not say has read them as it answered.
    const dt = typeof p?.sampledAt === 'number' && typeof r.sampledAt === 'number' ? (r.sampledAt - p.sampledAt) / 1000 : p?.sampledAt === null || r.sampledAt === null ? 0 : span;
    // A restart resets the counters: no percentage for that interval.
    const cpuPercent = dt > 0 && delta >= 0 && r.pids.length > 0 ? (delta / dt) * 100 : null;
    return { ...r, cpuPercent };
  });
}

const SORTS: Record<TopSort, (a: TopRow, b: TopRow) => number> = {
  name: (a, b) => a.name.localeCompare(b.name),
  cpu: (a, b) => (b.cpuPercent ?? -1) - (a.cpuPercent ?? -1) || a.name.localeCompare(b.name),
  mem: (a, b) => (b.memory ?? -1) - (a.memory ?? -1) || a.name.localeCompare(b.name),
  restarts: (a, b) => b.restarts - a.restarts || a.name.localeCompare(b.name),
};

export interface TopOptions {
  width: number;
  height: number;
  sort: TopSort;
  time: number;
  /** The key help line (interactive mode only). */
  keys: boolean;
}

const clock = (t: number): string => new Date(t).toTimeString().slice(0, 8);
const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, Math.max(0, n - 1)) + '…' : s);

export function renderTop(rows: readonly TopRow[], opts: TopOptions): string[] {
  const sorted = [...rows].sort(SORTS[opts.sort]);
  const byState = new Map<string, number>();
  for (const r of rows) byState.set(r.state, (byState.get(r.state) ?? 0) + 1);
  const states = [...byState].sort((a, b) => b[1] - a[1]).map(([s, n]) => `${n} ${s}`).join(', ');
  const cpuTotal = rows.reduce((a, r) => a + (r.cpuPercent ?? 0), 0);
  const memTotal = rows.reduce((a, r) => a + (r.memory ?? 0), 0);
  const head = [
    `emperor top  ${clock(opts.time)}  ${rows.length} vassal${rows.length === 1 ? '' : 's'}${states ? `: ${states}` : ''}`,
    `CPU ${cpuTotal.toFixed(1)}%  MEM ${formatBytes(memTotal)}  restarts ${rows.reduce((a, r) => a + r.restarts, 0)}  alarms ${rows.reduce((a, r) => a + r.alarms, 0)}`,
    '',
  ];
  const table = formatTable([
    ['NAME', 'STATE', 'PIDS', 'CPU%', 'MEM', 'UPTIME', 'RESTARTS', 'ALARMS', 'NOTE'],
    ...sorted.map((r) => [
      cut(r.name, 32),
      r.state,
      cut(r.pids.join(',') || '-', 24),
      r.cpuPercent === null ? '-' : r.cpuPercent.toFixed(1),
      r.memory === null ? '-' : formatBytes(r.memory),
      r.uptime === null ? '-' : formatDuration(r.uptime * 1000),
      String(r.restarts),
      String(r.alarms),
      r.note || (r.health === 'OK' || r.health.startsWith('Not ready') ? '' : r.health),
    ]),
  ]).split('\n');

  const alarms: (RecentAlarm & { vassal: string })[] = rows.flatMap((r) => r.recentAlarms.map((a) => ({ ...a, vassal: r.name }))).sort((a, b) => a.time - b.time).slice(-5);
  const foot = alarms.length > 0 ? ['', 'Recent alarms:', ...alarms.map((a) => `  ${clock(a.time)}  ${a.vassal}  ${a.alarm}: ${a.message.replace(/\s+/g, ' ')}`)] : [];
  const keys = opts.keys ? ['', `q quit   sort: n name  c cpu  m memory  r restarts   (now: ${opts.sort})`] : [];

  const room = Math.max(2, opts.height - head.length - foot.length - keys.length);
  let body = table;
  if (table.length > room) body = [...table.slice(0, room - 1), `… ${table.length - room + 1} more (enlarge the terminal)`];
  return [...head, ...body, ...foot, ...keys].map((l) => cut(l, opts.width));
}
