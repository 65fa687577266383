/**
 * One XMPP session per xmpp: action. It connects on the first alarm and stays online (the account
 * shows available while the vassal runs, as with uWSGI's plugin); when the server drops it, the
 * next alarm reconnects. There is no background reconnect loop: a wrong password or a dead
 * server costs one attempt per alarm, never a retry storm.
 */
import { client as xmppClient, xml, type Client, type Element } from '@xmpp/client';
import { EmperorError, ErrorCodes, describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { ALARM_LOG_PREFIX } from '../../src/alarms/prefix.js';
import type { XmppOptions } from './options.js';
import { replaceScramSha1 } from './scram-sha-1.js';

/** Longest a connection attempt may take, whatever the alarm's own deadline. */
const CONNECT_MS = 30_000;
/** How long close() waits for the server to end the stream. */
const STOP_MS = 2000;

function raceAbort<T>(p: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function abortError(signal: AbortSignal, what: string): EmperorError {
  const r: unknown = signal.reason;
  const why = r instanceof Error ? r.message : 'aborted';
  return new EmperorError(ErrorCodes.ALARM_ACTION, `${what}: ${why}`, { cause: r });
}

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return raceAbort(p, AbortSignal.timeout(ms), what).catch((err: unknown) => {
    if (err instanceof EmperorError && (err.cause as { name?: string } | undefined)?.name === 'TimeoutError') {
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `${what}: no session within ${ms} ms`, { cause: err });
    }
    throw err;
  });
}

export class XmppSession {
  private readonly opts: XmppOptions;
  private readonly log: Logger;
  private current: Client | undefined;
  private connecting: Promise<Client> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Sessions opened so far (the first and every reconnect). */
  connects = 0;

  constructor(opts: XmppOptions, log: Logger) {
    this.opts = opts;
    this.log = log;
  }

  /** Sends `body` as a chat message to every recipient, connecting first when needed. */
  async send(body: string, signal: AbortSignal): Promise<void> {
    const label = `xmpp ${this.opts.display}`;
    const c = await raceAbort(this.online(), signal, label);
    const stanzas = this.opts.recipients.map((to) => xml('message', { to, type: 'chat' }, xml('body', {}, body)));
    try {
      // Client.send writes its first argument only: one call per stanza.
      await raceAbort(Promise.all(stanzas.map((st) => c.send(st))).then(() => undefined), signal, label);
    } catch (err) {
      if (err instanceof EmperorError) throw err;
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: ${describeError(err)}`, { cause: err });
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      await this.connecting?.catch(() => undefined);
      await this.drop(this.current);
    })();
    return this.closing;
  }

  private online(): Promise<Client> {
    if (this.closed) return Promise.reject(new EmperorError(ErrorCodes.ALARM_ACTION, `xmpp ${this.opts.display}: closed`));
    if (this.current?.status === 'online') return Promise.resolve(this.current);
    // Concurrent alarms share one attempt; it is bounded on its own, not by any one alarm.
    this.connecting ??= withDeadline(this.connect(), CONNECT_MS, `xmpp ${this.opts.display}`).finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<Client> {
    await this.drop(this.current);
    const o = this.opts;
    const c = xmppClient({
      service: o.service ?? o.domain,
      domain: o.domain,
      username: o.local,
      password: o.password,
      ...(o.resource !== undefined ? { resource: o.resource } : {}),
    });
    // Reconnection is ours, on demand.
    c.reconnect.stop();
    replaceScramSha1(c.sasl);
    c.on('error', (err: unknown) => {
      this.log.debug(`${ALARM_LOG_PREFIX} xmpp ${o.display}: ${describeError(err)}`);
    });
    c.on('stanza', (stanza: Element) => {
      if (stanza.is('message') && stanza.attrs.type === 'error') {
        const cond = stanza.getChild('error')?.children.find((ch): ch is Element => typeof ch !== 'string')?.name ?? 'error';
        this.log.warn(`${ALARM_LOG_PREFIX} xmpp ${o.display}: the message to ${stanza.attrs.from ?? '?'} bounced (${cond})`);
      }
    });
    this.current = c;
    this.connects++;
    try {
      await c.start();
      await c.send(xml('presence'));
    } catch (err) {
      await this.drop(c);
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `xmpp ${o.display}: cannot open a session: ${describeError(err)}`, { cause: err });
    }
    if (this.closed) {
      await this.drop(c);
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `xmpp ${o.display}: closed`);
    }
    return c;
  }

  private async drop(c: Client | undefined): Promise<void> {
    if (c === undefined) return;
    if (this.current === c) this.current = undefined;
    try {
      if (c.status !== 'offline') await withDeadline(c.stop(), STOP_MS, 'stop');
    } catch {
      // Dropped either way.
    }
    c.removeAllListeners();
    // An 'error' after this point must not become an uncaught exception.
    c.on('error', () => {});
  }
}
