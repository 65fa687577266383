/**
 * Summary of a V8 CPU profile (node --cpu-prof): self time per function, busiest first, idle
 * excluded, so a note can say what dominated the emperor's CPU during a benchmark.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotSpot {
  name: string;
  selfMs: number;
  share: number;
}

export function summarizeProfile(file: string, root: string, top = 12): { busyMs: number; totalMs: number; spots: HotSpot[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const totalSamples = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const totalMs = (p.endTime - p.startTime) / 1000;
  const perSample = totalMs / totalSamples;
  const by = new Map<string, number>();
  let idle = 0;
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += hits;
      continue;
    }
    const where = url === '' ? '' : ` ${shortUrl(url, root)}:${lineNumber + 1}`;
    const key = `${functionName || '(anonymous)'}${where}`;
    by.set(key, (by.get(key) ?? 0) + hits);
  }
  const busy = totalSamples - idle;
  const spots = [...by.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, hits]) => ({ name, selfMs: hits * perSample, share: hits / (busy || 1) }));
  return { busyMs: busy * perSample, totalMs, spots };
}

function shortUrl(url: string, root: string): string {
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (path.startsWith('node:')) return path;
  return path.startsWith(root) ? relative(root, path) : path;
}

/**
 * The busiest .cpuprofile in `dir`: the emperor's main thread (node writes one per thread, and
 * tsx runs its module loader in a worker thread of its own).
 */
export function busiestProfile(dir: string, root: string): { file: string; summary: ReturnType<typeof summarizeProfile> } | undefined {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return undefined;
  }
  let best: { file: string; summary: ReturnType<typeof summarizeProfile> } | undefined;
  for (const f of files) {
    const summary = summarizeProfile(join(dir, f), root);
    if (!best || summary.busyMs > best.summary.busyMs) best = { file: join(dir, f), summary };
  }
  return best;
}

/** A markdown paragraph naming the hot spots of the emperor's profile in `dir`. */
export function profileNote(dir: string, root: string, what: string): string | undefined {
  const found = busiestProfile(dir, root);
  if (!found) return undefined;
  const { file, summary: s } = found;
  const rows = s.spots.map((h) => `${(h.share * 100).toFixed(1)} % ${h.selfMs.toFixed(0)} ms \`${h.name}\``).join('; ');
  return `CPU profile of the emperor during ${what} (\`${relative(root, file)}\`): busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms. Self time, busiest first: ${rows}.`;
}
