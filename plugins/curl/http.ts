/**
 * The http:// and https:// half of curl: sends the alarm message as the request body (PUT unless
 * `method` says otherwise), with basic auth when given. Any answer but 2xx is a failure; redirects
 * are not followed (curl's default).
 */
import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import type { AlarmFiring } from '../../src/plugin.js';
import { abortReason } from './abort.js';
import type { CurlOptions, HttpTarget } from './options.js';

/** Bytes of an error response quoted in the failure message. */
const ERROR_BODY_LIMIT = 300;

export function sendHttp(o: CurlOptions, target: HttpTarget, firing: AlarmFiring, signal: AbortSignal): Promise<void> {
  const label = `${target.method} ${o.display}`;
  if (signal.aborted) return Promise.reject(abortReason(signal, label));
  const body = Buffer.from(firing.message, 'utf8');
  const headers: OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    'user-agent': 'emperor-alarm',
    'x-emperor-alarm': encodeURIComponent(firing.alarm),
    'x-emperor-vassal': encodeURIComponent(firing.vassal),
  };
  if (o.user !== undefined) headers.authorization = `Basic ${Buffer.from(`${o.user}:${o.pass ?? ''}`).toString('base64')}`;
  const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    const done = (err?: Error): void => {
      if (settled) return;
      settled = true;
      if (connectTimer !== undefined) clearTimeout(connectTimer);
      signal.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve();
    };
    const onAbort = (): void => done(abortReason(signal, label));

    const req = request(target.url, {
      method: target.method,
      headers,
      agent: false,
      rejectUnauthorized: !o.insecure,
    });
    req.on('socket', (socket: Socket) => {
      if (o.connTimeoutMs === undefined || !socket.connecting) return;
      connectTimer = setTimeout(() => {
        done(new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: could not connect within ${o.connTimeoutMs} ms (conn_timeout)`));
      }, o.connTimeoutMs);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('error', (err) => done(new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: ${err.message}`, { cause: err })));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (b: Buffer) => {
        if (size < ERROR_BODY_LIMIT) chunks.push(b);
        size += b.length;
      });
      res.on('error', (err) => done(new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: ${err.message}`, { cause: err })));
      res.on('end', () => {
        if (status >= 200 && status < 300) {
          done();
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_LIMIT).trim();
        const quoted = text.length > 0 ? `: ${text}` : '';
        done(new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + quoted));
      });
    });
    signal.addEventListener('abort', onAbort, { once: true });
    req.end(body);
  });
}
