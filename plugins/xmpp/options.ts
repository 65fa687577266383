/**
 * The argument of `xmpp:JID;PASSWORD;RCPT[,RCPT...]` (uWSGI's syntax; the JID may carry a
 * /resource), plus an optional `;service=xmpp://host:port` for servers that DNS does not locate.
 * A password cannot contain ';', as in uWSGI.
 */
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export interface XmppOptions {
  local: string;
  domain: string;
  resource: string | undefined;
  password: string;
  recipients: string[];
  /** Where to connect: xmpp://, xmpps://, ws:// or wss:// URI; default: the JID's domain, by DNS SRV. */
  service: string | undefined;
  /** The JID as shown in messages. */
  display: string;
}

const JID = /^([^@/\s]+)@([^@/\s]+)(?:\/(\S+))?$/;

function bad(message: string): EmperorError {
  return new EmperorError(ErrorCodes.CONFIG_INVALID, `xmpp: ${message}`, { key: 'alarm' });
}

export function parseXmppArgs(args: string): XmppOptions {
  const parts = args.split(';');
  if (parts.length < 3) throw bad('expected JID;PASSWORD;RECIPIENT[,RECIPIENT...], as in xmpp:app@example.com;secret;ops@example.com');
  const [jidText = '', password = '', rcptText = '', ...extra] = parts;
  const m = JID.exec(jidText.trim());
  if (!m) throw bad(`expected a JID such as app@example.com or app@example.com/resource, got ${JSON.stringify(jidText)}`);
  const recipients = rcptText.split(',').map((r) => r.trim()).filter((r) => r.length > 0);
  if (recipients.length === 0) throw bad('expected at least one recipient JID after the password');
  for (const r of recipients) if (!JID.test(r)) throw bad(`recipient ${JSON.stringify(r)} is not a JID such as ops@example.com`);
  let service: string | undefined;
  for (const field of extra) {
    if (field.trim() === '') continue;
    const eq = field.indexOf('=');
    const key = eq < 0 ? field.trim() : field.slice(0, eq).trim();
    if (key !== 'service') throw bad(`unknown option ${JSON.stringify(key)} after the recipients; expected service=xmpp://host:port`);
    service = field.slice(eq + 1).trim();
    if (!/^(xmpps?|wss?):\/\/[^/\s]+/.test(service)) throw bad(`service: expected an xmpp://, xmpps://, ws:// or wss:// URI, got ${JSON.stringify(service)}`);
  }
  const [, local = '', domain = '', resource] = m;
  return { local, domain, resource, password, recipients, service, display: `${local}@${domain}${resource ? `/${resource}` : ''}` };
}
