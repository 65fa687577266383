/**
 * The smtp:// and smtps:// half of curl: one SMTP session per alarm (alarms are rare; a pooled
 * connection would only go stale), with AUTH when auth_user is given. smtps:// is TLS from the
 * first byte; smtp:// upgrades with STARTTLS whenever the server offers it, and with `ssl` it
 * refuses to send unless it could (curl's CURLUSESSL_ALL, which uWSGI's `ssl` sets).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import type { AlarmFiring } from '../../src/plugin.js';
import { abortReason } from './abort.js';
import type { CurlOptions, SmtpTarget } from './options.js';

/** Used for the connect and greeting phases when neither conn_timeout nor timeout is given. */
const DEFAULT_PHASE_MS = 30_000;

function subjectOf(target: SmtpTarget, firing: AlarmFiring): string {
  return target.subject ?? `emperor alarm "${firing.alarm}" on ${firing.vassal}`;
}

function failure(label: string, err: unknown): EmperorError {
  if (err instanceof EmperorError) return err;
  const e = err as SMTPConnection.SMTPError;
  const response = typeof e?.response === 'string' && e.response.length > 0 ? ` (server said: ${e.response.trim()})` : '';
  const message = err instanceof Error ? err.message : String(err);
  return new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: ${message}${response}`, { cause: err });
}

export async function sendMail(o: CurlOptions, target: SmtpTarget, firing: AlarmFiring, signal: AbortSignal): Promise<void> {
  const label = o.display;
  if (signal.aborted) throw abortReason(signal, label);
  const raw = await new MailComposer({
    from: target.from,
    to: target.to,
    subject: subjectOf(target, firing),
    text: firing.message,
    headers: { 'X-Emperor-Alarm': firing.alarm, 'X-Emperor-Vassal': firing.vassal },
  })
    .compile()
    .build();

  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    secure: target.secure,
    requireTLS: target.requireTls,
    // Without `ssl`, a server that refuses STARTTLS still gets the mail, as curl would send it.
    opportunisticTLS: !target.requireTls,
    name: target.ehloName,
    tls: { rejectUnauthorized: !o.insecure, servername: target.host },
    connectionTimeout: o.connTimeoutMs ?? o.timeoutMs ?? DEFAULT_PHASE_MS,
    greetingTimeout: o.timeoutMs ?? DEFAULT_PHASE_MS,
    socketTimeout: o.timeoutMs ?? DEFAULT_PHASE_MS,
    logger: false,
  });

  let onAbort: (() => void) | undefined;
  // Every SMTP step rejects this one promise: an 'error' event, an abort, or a step's callback.
  const broken = new Promise<never>((_, reject) => {
    conn.on('error', (err) => reject(failure(label, err)));
    onAbort = () => {
      conn.close();
      reject(abortReason(signal, label));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  broken.catch(() => {});
  const step = <T>(run: (cb: (err: unknown, value?: T) => void) => void): Promise<T> =>
    Promise.race([
      broken,
      new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(failure(label, err)) : resolve(value as T)))),
    ]);

  try {
    await step<void>((cb) => conn.connect((err) => cb(err)));
    if (target.requireTls && !conn.secure) {
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: ssl is set but the session is not encrypted; refusing to send`);
    }
    if (o.user !== undefined) await step<void>((cb) => conn.login({ user: o.user ?? '', pass: o.pass ?? '' }, (err) => cb(err)));
    const info = await step<SMTPConnection.SentMessageInfo>((cb) => conn.send({ from: target.from, to: target.to }, raw, (err, i) => cb(err, i)));
    if (info.rejected.length > 0) {
      throw new EmperorError(ErrorCodes.ALARM_ACTION, `${label}: the server refused recipient(s) ${info.rejected.join(', ')}`);
    }
    conn.quit();
  } catch (err) {
    conn.close();
    throw err;
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}
