/**
 * The environment a uWSGI vassal inherits from the emperor, as uWSGI's emperor passes it: every
 * UWSGI_VASSAL_xxx variable becomes UWSGI_xxx (uWSGI reads UWSGI_xxx as its option xxx, so this
 * sets an option in every vassal), and the emperor's own emperor-protocol variables (when it runs
 * as a vassal itself) stay out: the driver sets each vassal's own.
 */
import { ENV_BROODLORD_NUM, ENV_EMPEROR_FD, ENV_EMPEROR_FD_CONFIG } from './protocol.js';

const VASSAL_PREFIX = 'UWSGI_VASSAL_';

/** Belong to the emperor's own supervisor, never to its vassals. */
const DROPPED = new Set([ENV_EMPEROR_FD, ENV_EMPEROR_FD_CONFIG, ENV_BROODLORD_NUM, 'UWSGI_EMPEROR_PROXY', 'UWSGI_RELOADS', 'NOTIFY_SOCKET']);

export function uwsgiVassalEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  const options: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || DROPPED.has(k)) continue;
    if (k.startsWith(VASSAL_PREFIX) && k.length > VASSAL_PREFIX.length) options[`UWSGI_${k.slice(VASSAL_PREFIX.length)}`] = v;
    else out[k] = v;
  }
  // The rewritten name wins over a UWSGI_xxx the emperor happens to have itself.
  return Object.assign(out, options);
}
