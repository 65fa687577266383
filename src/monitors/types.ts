/**
 * The contract between config sources ("imperial monitors") and the emperor. A monitor only says
 * what it sees; core/reconcile.ts alone turns that into add, reload and remove.
 */

/** The config formats a vassal file may use, chosen by the name's extension. */
export type ConfigFormat = 'ini' | 'yaml' | 'json' | 'xml';

export interface VassalConfigSource {
  /** The config text as the source holds it. */
  text: string;
  format: ConfigFormat;
  /** The file it came from, when it came from a file (dir, glob, amqp path, zmq file). */
  path?: string;
}

export interface VassalSpec {
  /** Unique across the emperor; with its extension (`app.ini`), or a full path for glob vassals. */
  name: string;
  /** The id of the monitor that announced it. */
  source: string;
  config: VassalConfigSource;
  /** Opaque: a different revision means "reload". mtime, ts, message id, content hash. */
  revision: string;
  /** Credentials the source assigns (tyrant mode): the file owner, or a row's uid/gid columns. */
  uid?: number;
  gid?: number;
  /** An on-demand socket the emperor binds for this vassal (tcp host:port or a unix path). */
  socket?: string;
  /** The config came from the source itself (row, message) rather than a file: uWSGI vassals get it over the config pipe. */
  pushed?: boolean;
}

export type MonitorEvent =
  | { type: 'upsert'; spec: VassalSpec }
  | { type: 'remove'; name: string }
  /** Polling sources: the full desired set of this monitor. Never sent after a failed read. */
  | { type: 'snapshot'; specs: VassalSpec[] }
  /**
   * Something the user must hear about: a file that cannot be read, a bad row, a lost connection.
   * `name` is set when it concerns one vassal; that vassal, if running, keeps running.
   */
  | { type: 'error'; error: Error; name?: string };

export interface Monitor {
  /** Stable id, shown in logs and stats: the argument as the user gave it (passwords masked). */
  readonly id: string;
  /**
   * The events, until the signal aborts. The iterator ends when aborted; it must not throw for a
   * lost source (report an `error` event and retry instead).
   */
  events(signal: AbortSignal): AsyncIterable<MonitorEvent>;
}

/** What every monitor factory receives besides its own argument. */
export interface MonitorContext {
  /** Rescan / poll period in seconds (`--freq`). */
  freq: number;
  /** Extensions accepted besides .ini .yml .yaml .json .xml (with the dot), from `--extra-extension`. */
  extraExtensions: readonly string[];
  /** This host's name for %h in queries (`--node-name`, default os.hostname()). */
  nodeName: string;
  /** Where durable sources (amqp, zmq) keep their vassals' last configs. */
  stateDir: string;
  /** Tyrant mode: sources must supply uid/gid (file owner, row columns, message parts). */
  tyrant: boolean;
  /** Tyrant: take the owner of a symlink itself rather than its target. */
  tyrantNofollow: boolean;
  /** Milliseconds a file must stay unchanged before it is read (files still being written). */
  settleMs: number;
  /** Largest config accepted, in bytes. */
  maxConfigBytes: number;
  log: import('../log/logger.js').Logger;
}

export type MonitorFactory = (arg: string, ctx: MonitorContext) => Monitor;
