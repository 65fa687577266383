/**
 * The counts ops shows of a vassal's alarm subsystem. The subsystem's `stats()` is its own
 * business (it is passed through untouched in the stats document); ops reads only a total of
 * firings and the most recent ones, from any of the shapes
 *   { fired: number | { NAME: number }, recent?: [{ time, alarm, message }] }
 *   { alarms: [{ name, fired }] | { NAME: { fired } }, recent?: [...] }
 */
export interface RecentAlarm {
  /** Epoch ms. */
  time: number;
  alarm: string;
  message: string;
}

export interface AlarmSummary {
  fired: number;
  recent: RecentAlarm[];
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const count = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);

export function summarizeAlarms(stats: unknown): AlarmSummary {
  if (!isObj(stats) && !Array.isArray(stats)) return { fired: 0, recent: [] };
  let fired = 0;
  const perAlarm = Array.isArray(stats) ? stats : isObj(stats) ? stats.alarms : undefined;
  if (isObj(stats) && typeof stats.fired === 'number') fired = count(stats.fired);
  else if (isObj(stats) && isObj(stats.fired)) for (const n of Object.values(stats.fired)) fired += count(n);
  else if (Array.isArray(perAlarm)) for (const a of perAlarm) fired += isObj(a) ? count(a.fired) : 0;
  else if (isObj(perAlarm)) for (const a of Object.values(perAlarm)) fired += isObj(a) ? count(a.fired) : 0;
  const recent: RecentAlarm[] = [];
  const list = isObj(stats) ? stats.recent : undefined;
  if (Array.isArray(list)) {
    for (const r of list) {
      if (!isObj(r)) continue;
      const time = typeof r.time === 'number' ? r.time : typeof r.time === 'string' ? Date.parse(r.time) : NaN;
      const alarm = typeof r.alarm === 'string' ? r.alarm : typeof r.name === 'string' ? r.name : '';
      const message = typeof r.message === 'string' ? r.message : typeof r.msg === 'string' ? r.msg : '';
      if (Number.isFinite(time)) recent.push({ time, alarm, message });
    }
  }
  recent.sort((a, b) => a.time - b.time);
  return { fired, recent };
}
