/**
 * A synchronous SCRAM-SHA-1 client mechanism (RFC 5802) for @xmpp/sasl. The bundled one
 * (sasl-scram-sha-1 >= 1.4) answers the server's challenge with a Promise, which @xmpp/sasl 0.13
 * sends as an empty <response/>, so every SCRAM login fails with malformed-request
 * (xmppjs/xmpp.js#1127). The salted password is kept per session, so a reconnect costs no
 * second PBKDF2 run.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

interface Credentials {
  username?: string | null;
  password?: string | null;
}

function saslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function parseAttributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha1', key).update(data, 'utf8').digest();

/** A mechanism class for saslmechanisms' factory, with its own salted-password cache. */
export function scramSha1Mechanism(): new () => object {
  const cache = new Map<string, Buffer>();

  class ScramSha1 {
    // On the prototype: saslmechanisms reads the name from there before any instance exists.
    declare readonly name: string;
    declare readonly clientFirst: boolean;
    private stage: 'initial' | 'challenge' | 'final' = 'initial';
    private cnonce = '';
    private clientFirstBare = '';
    private serverFirst = '';

    response(cred: Credentials): string {
      if (this.stage === 'initial') {
        this.cnonce = randomBytes(18).toString('base64');
        this.clientFirstBare = `n=${saslname(cred.username ?? '')},r=${this.cnonce}`;
        this.stage = 'challenge';
        return `n,,${this.clientFirstBare}`;
      }
      if (this.stage === 'challenge') {
        const attrs = parseAttributes(this.serverFirst);
        const nonce = attrs.get('r') ?? '';
        const salt = attrs.get('s') ?? '';
        const iterations = Number(attrs.get('i') ?? '0');
        // A server nonce must extend ours; anything else is not the server we asked.
        if (!nonce.startsWith(this.cnonce) || salt === '' || !(iterations > 0)) {
          this.stage = 'final';
          return '';
        }
        const key = `${salt}\0${iterations}\0${cred.password ?? ''}`;
        let salted = cache.get(key);
        if (salted === undefined) {
          salted = pbkdf2Sync(cred.password ?? '', Buffer.from(salt, 'base64'), iterations, 20, 'sha1');
          cache.clear();
          cache.set(key, salted);
        }
        const clientKey = hmac(salted, 'Client Key');
        const storedKey = createHash('sha1').update(clientKey).digest();
        const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
        const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
        const signature = hmac(storedKey, authMessage);
        const proof = Buffer.alloc(clientKey.length);
        for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (signature[i] ?? 0);
        this.stage = 'final';
        return `${withoutProof},p=${proof.toString('base64')}`;
      }
      return '';
    }

    challenge(chal: string): this {
      if (this.stage === 'challenge') this.serverFirst = chal;
      return this;
    }
  }
  Object.assign(ScramSha1.prototype, { name: 'SCRAM-SHA-1', clientFirst: true });
  return ScramSha1;
}

interface MechanismEntry {
  name: string;
  mech: unknown;
}

/**
 * Puts our SCRAM-SHA-1 in place of the bundled one in a client's SASL factory. Returns false when
 * the factory does not look as expected (a newer @xmpp/sasl), leaving it untouched.
 */
export function replaceScramSha1(sasl: { use(mechanism: unknown): unknown }): boolean {
  const mechanism = scramSha1Mechanism();
  const factory = sasl.use(mechanism) as { _mechs?: unknown } | undefined;
  const mechs = factory?._mechs;
  if (!Array.isArray(mechs)) return false;
  const list = mechs as MechanismEntry[];
  const ours = list.pop();
  if (ours === undefined || ours.mech !== mechanism) return false;
  const at = list.findIndex((m) => m.name === 'SCRAM-SHA-1');
  if (at >= 0) list[at] = ours;
  else list.unshift(ours);
  return true;
}
