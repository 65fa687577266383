/**
 * A mongodb:// monitor argument, in one of two forms.
 *
 * uWSGI's: `mongodb://ADDRESS,DATABASE.COLLECTION,FILTER` (every part optional, defaults
 * 127.0.0.1:27017, uwsgi.emperor.vassals, {}), one server, connected to directly. It is
 * recognised when the part after the first comma contains a dot and none of `/ ? # @ : =`, and
 * the part after the second comma, if any, starts with `{`; a plain `mongodb://HOST[:PORT]` reads
 * the same in both forms.
 *
 * A MongoDB connection string: `mongodb[+srv]://[USER:PASS@]HOSTS/[DATABASE][?OPTIONS]`, where
 * OPTIONS may add `collection=`, `filter=` (URL-encoded relaxed JSON) and `maxTimeMS=`, which are
 * taken out before connecting; every other option (replicaSet, tls, authSource...) goes to the
 * driver. DATABASE defaults to uwsgi and COLLECTION to emperor.vassals, as in uWSGI.
 */
import { MongoClient, type Document, type MongoClientOptions } from 'mongodb';
import { EmperorError, ErrorCodes } from '../../src/errors.js';
import { parseFilter } from './filter.js';

export const DEFAULT_ADDRESS = '127.0.0.1:27017';
export const DEFAULT_DATABASE = 'uwsgi';
export const DEFAULT_COLLECTION = 'emperor.vassals';
export const DEFAULT_MAX_TIME_MS = 10_000;
export const DEFAULT_SERVER_SELECTION_MS = 5_000;

const UWSGI_FORM = /^mongodb:\/\/([^,/?#@]*)(?:,([^,/?#@:=]*)(?:,([\s\S]*))?)?$/i;
const URI_FORM = /^mongodb(?:\+srv)?:\/\//i;
const SECRET_PARAMS = new Set(['tlscertificatekeyfilepassword', 'authmechanismproperties']);

export interface MongoTarget {
  /** The argument as given, secrets masked: the monitor id. */
  id: string;
  /** What the driver connects to (monitor-only options removed). */
  uri: string;
  options: MongoClientOptions;
  database: string;
  collection: string;
  filter: Document;
  /** Server-side limit of one read; 0: none. */
  maxTimeMS: number;
}

function usage(message: string, cause?: unknown): EmperorError {
  return new EmperorError(ErrorCodes.USAGE, `mongodb://: ${message}`, { key: 'mongodb://', cause });
}

/**
 * Decodes the %XX escapes of an option value and leaves any other `%` as typed, so a filter may
 * say `node:'%h'` without writing `%25h`.
 */
function decodeLenient(value: string): string {
  return value.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => decodeURIComponent(run));
}

function splitNamespace(ns: string): { database: string; collection: string } {
  const dot = ns.indexOf('.');
  return { database: ns.slice(0, dot), collection: ns.slice(dot + 1) };
}

function uwsgiForm(arg: string, nodeName: string): MongoTarget | undefined {
  const m = UWSGI_FORM.exec(arg.trim());
  if (!m) return undefined;
  const [, address = '', ns, filter] = m;
  if (ns !== undefined && ns !== '' && (!ns.includes('.') || ns.startsWith('.') || ns.endsWith('.'))) return undefined;
  if (filter !== undefined && filter.trim() !== '' && !filter.trim().startsWith('{')) return undefined;
  const { database, collection } = splitNamespace(ns === undefined || ns === '' ? `${DEFAULT_DATABASE}.${DEFAULT_COLLECTION}` : ns);
  return {
    id: arg,
    uri: `mongodb://${address === '' ? DEFAULT_ADDRESS : address}/?directConnection=true`,
    options: { serverSelectionTimeoutMS: DEFAULT_SERVER_SELECTION_MS, appName: 'emperor' },
    database,
    collection,
    filter: parseFilter(filter ?? '', nodeName),
    maxTimeMS: DEFAULT_MAX_TIME_MS,
  };
}

function uriForm(arg: string, nodeName: string): MongoTarget {
  const text = arg.trim();
  const q = text.indexOf('?');
  const head = q < 0 ? text : text.slice(0, q);
  const afterScheme = head.indexOf('//') + 2;
  const slash = head.indexOf('/', afterScheme);
  let database = DEFAULT_DATABASE;
  if (slash >= 0 && slash < head.length - 1) {
    try {
      database = decodeURIComponent(head.slice(slash + 1));
    } catch (err) {
      throw usage(`bad percent-encoding in the database name of ${JSON.stringify(head)}`, err);
    }
  }
  let collection = DEFAULT_COLLECTION;
  let filterText = '';
  let maxTimeMS = DEFAULT_MAX_TIME_MS;
  const kept: string[] = [];
  const keptKeys = new Set<string>();
  const masked: string[] = [];
  for (const part of q < 0 ? [] : text.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeLenient(eq < 0 ? '' : part.slice(eq + 1));
    } catch (err) {
      throw usage(`bad percent-encoding in option ${JSON.stringify(rawKey)} (write & as %26)`, err);
    }
    if (key === 'collection') {
      if (value === '') throw usage('collection= is empty');
      collection = value;
    } else if (key === 'filter') {
      filterText = value;
    } else if (key === 'maxTimeMS') {
      if (!/^\d+$/.test(value)) throw usage(`maxTimeMS must be whole milliseconds, got ${JSON.stringify(value)}`);
      maxTimeMS = Number(value);
    } else {
      kept.push(part);
      keptKeys.add(key.toLowerCase());
    }
    masked.push(SECRET_PARAMS.has(key.toLowerCase()) ? `${rawKey}=***` : part);
  }
  // USER:PASS@ before the hosts: mask the password.
  const authorityEnd = slash < 0 ? head.length : slash;
  const at = head.lastIndexOf('@', authorityEnd);
  const colon = head.indexOf(':', afterScheme);
  const maskedHead = at >= afterScheme && colon >= 0 && colon < at ? `${head.slice(0, colon + 1)}***${head.slice(at)}` : head;
  const id = q < 0 ? maskedHead : `${maskedHead}?${masked.join('&')}`;
  const uri = kept.length > 0 ? `${head}?${kept.join('&')}` : head;

  const options: MongoClientOptions = {};
  if (!keptKeys.has('serverselectiontimeoutms')) options.serverSelectionTimeoutMS = DEFAULT_SERVER_SELECTION_MS;
  if (!keptKeys.has('appname')) options.appName = 'emperor';
  try {
    // Parses and checks every driver option now, without connecting.
    new MongoClient(uri, options);
  } catch (err) {
    throw usage(`${(err as Error).message} in ${id}`, err);
  }
  return { id, uri, options, database, collection, filter: parseFilter(filterText, nodeName), maxTimeMS };
}

export function parseMongoArgument(arg: string, nodeName: string): MongoTarget {
  if (!URI_FORM.test(arg.trim())) {
    throw usage(`expected mongodb://ADDRESS,DB.COLLECTION,FILTER or a mongodb:// / mongodb+srv:// connection string, got ${JSON.stringify(arg.slice(0, 40))}`);
  }
  return uwsgiForm(arg, nodeName) ?? uriForm(arg, nodeName);
}
