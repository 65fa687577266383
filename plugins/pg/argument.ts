/**
 * A `pg://` monitor argument: `pg://CONNECTION[;QUERY]`, CONNECTION a libpq conninfo or a
 * postgres:// URL, QUERY the SELECT that lists the vassals (uWSGI's default when absent). A bare
 * `postgres://URL[;QUERY]` (or `postgresql://`) is the same as `pg://postgres://URL[;QUERY]`.
 */
import pg from 'pg';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { parseConninfo } from './conninfo.js';
import { isPgUrl, parsePgConnection, type PgConnection } from './connection.js';

export const DEFAULT_QUERY = 'SELECT name,config,EXTRACT(epoch FROM ts) FROM vassals';
const SCHEME = /^pg:\/\//i;

export interface PgTarget extends PgConnection {
  /** The argument as given, passwords masked: the monitor id. */
  id: string;
  /** The query with %h already replaced. */
  query: string;
}

/** The connection text and the query text of an argument, with or without its `pg://`. */
export function splitPgArgument(arg: string): { connection: PgConnection; query: string | undefined } {
  const rest = arg.replace(SCHEME, '');
  if (isPgUrl(rest)) {
    const semi = rest.indexOf(';');
    const text = semi < 0 ? rest : rest.slice(0, semi);
    return { connection: parsePgConnection(text), query: semi < 0 ? undefined : rest.slice(semi + 1) };
  }
  const info = parseConninfo(rest);
  return {
    connection: parsePgConnection(rest.slice(0, info.end), 'pg://', info),
    query: info.end < rest.length ? rest.slice(info.end + 1) : undefined,
  };
}

/**
 * Replaces `%h` in a query by this host's node name as an SQL string literal (quoted and escaped,
 * so a node name can never change the query's meaning); `'%h'` is taken as `%h`, and `%%` is a
 * literal `%` (for a LIKE pattern such as `'%%host'`).
 */
export function substituteNodeName(query: string, nodeName: string): string {
  const literal = pg.escapeLiteral(nodeName);
  return query.replace(/'%h'|%h|%%/g, (m) => (m === '%%' ? '%' : literal));
}

export function parsePgArgument(arg: string, nodeName: string): PgTarget {
  const prefix = SCHEME.exec(arg)?.[0] ?? '';
  if (prefix === '' && !isPgUrl(arg)) {
    throw new EmperorError(ErrorCodes.USAGE, `pg monitor: expected pg://CONNECTION[;QUERY] or postgres://URL[;QUERY], got ${JSON.stringify(arg.slice(0, 40))}`, { key: 'pg://' });
  }
  const { connection, query } = splitPgArgument(arg);
  const text = query === undefined || query.trim() === '' ? DEFAULT_QUERY : query.trim();
  const id = `${prefix}${connection.masked}${query === undefined ? '' : `;${query}`}`;
  return { ...connection, id, query: substituteNodeName(text, nodeName) };
}
