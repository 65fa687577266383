/**
 * Readiness probes: when is a freshly spawned vassal serving? Polled with a short, growing interval
 * so a fast program is seen ready within milliseconds and a slow one costs little. A ready file is
 * looked at again the moment inotify reports its name in its directory; polling goes on behind
 * that, slower, for what inotify does not see (network filesystems, a directory made later).
 */
import { access } from 'node:fs/promises';
import { connect } from 'node:net';
import type { ReadyProbe } from '../config/types.js';
import { watchName } from './name-watch.js';

export interface ProbeOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Stops probing (and fails) once this returns false: a worker that died is not going to be ready. */
  stillAlive: () => boolean;
  /**
   * Tyrant mode: whether the vassal's user may reach a probe's path (src/isolation), so a vassal
   * cannot learn through its probe about files it could not see itself.
   */
  mayReach?: (kind: 'file' | 'unix', path: string) => Promise<boolean>;
}

export class ProbeFailed extends Error {}

const FIRST_INTERVAL_MS = 2;
const MAX_INTERVAL_MS = 100;
/** Polling behind a working watch of a ready file's directory. */
const WATCHED_FIRST_INTERVAL_MS = 25;

export function describeProbe(p: ReadyProbe): string {
  switch (p.kind) {
    case 'tcp': return `tcp:${p.host}:${p.port}`;
    case 'unix': return `unix:${p.path}`;
    case 'http': return p.url;
    case 'file': return `file:${p.path}`;
    case 'alive': return `alive for ${p.ms} ms`;
  }
}

/** Resolves once the probe passes; rejects with ProbeFailed on timeout, abort or a dead worker. */
export async function waitReady(probe: ReadyProbe, opts: ProbeOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  if (probe.kind === 'alive') {
    await delay(Math.min(probe.ms, opts.timeoutMs), opts.signal);
    if (!opts.stillAlive()) throw new ProbeFailed('worker exited before it was up for ' + probe.ms + ' ms');
    return;
  }
  const wake = new Wake();
  let unwatch: (() => void) | undefined;
  const watchFile = (): void => {
    if (probe.kind === 'file' && unwatch === undefined) unwatch = watchName(probe.path, () => wake.fire());
  };
  // Set up before the first look, so that a file made in between still wakes us.
  watchFile();
  let interval = unwatch ? WATCHED_FIRST_INTERVAL_MS : FIRST_INTERVAL_MS;
  try {
    for (;;) {
      if (opts.signal.aborted) throw new ProbeFailed('aborted');
      if (!opts.stillAlive()) throw new ProbeFailed('worker exited before it was ready');
      wake.reset();
      if (await checkOnce(probe, opts)) return;
      if (Date.now() >= deadline) throw new ProbeFailed(`not ready after ${opts.timeoutMs} ms (${describeProbe(probe)})`);
      await delay(interval, opts.signal, wake);
      interval = Math.min(interval * 2, MAX_INTERVAL_MS);
      watchFile();
    }
  } finally {
    unwatch?.();
  }
}

/** Cuts a delay short when an event says the probe may pass now; remembers one that came early. */
class Wake {
  private fired = false;
  private waiter: (() => void) | undefined;

  fire(): void {
    this.fired = true;
    this.waiter?.();
  }

  reset(): void {
    this.fired = false;
  }

  /** Resolves at once if fired since the last reset, else calls `cb` when it fires (once). */
  on(cb: () => void): () => void {
    if (this.fired) {
      cb();
      return () => undefined;
    }
    this.waiter = cb;
    return () => {
      this.waiter = undefined;
    };
  }
}

async function checkOnce(probe: Exclude<ReadyProbe, { kind: 'alive' }>, opts: ProbeOptions): Promise<boolean> {
  switch (probe.kind) {
    case 'tcp': return canConnect({ host: probe.host, port: probe.port });
    case 'unix':
      if (opts.mayReach && !(await opts.mayReach('unix', probe.path))) return false;
      return canConnect({ path: probe.path });
    case 'file':
      if (opts.mayReach) return opts.mayReach('file', probe.path);
      return access(probe.path).then(() => true, () => false);
    case 'http': return httpOk(probe.url, opts.signal);
  }
}

function canConnect(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(target);
    const done = (ok: boolean): void => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function httpOk(url: string, signal: AbortSignal): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]), redirect: 'manual' });
    await res.body?.cancel();
    return res.status < 500;
  } catch {
    return false;
  }
}

function delay(ms: number, signal: AbortSignal, wake?: Wake): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(new ProbeFailed('aborted')); return; }
    let off = (): void => undefined;
    const done = (): void => { clearTimeout(t); off(); signal.removeEventListener('abort', onAbort); };
    const t = setTimeout(() => { done(); resolve(); }, ms);
    const onAbort = (): void => { done(); reject(new ProbeFailed('aborted')); };
    signal.addEventListener('abort', onAbort, { once: true });
    if (wake) off = wake.on(() => { done(); resolve(); });
  });
}
