/**
 * The keys of a `[vassal]` section: one row each, with its type, default and one line of
 * documentation. The README's key table is generated from this list, and the validator refuses
 * every key that is not in it (or registered by a plugin).
 */

export interface KeyDef {
  name: string;
  /** Other spellings accepted for the same key (uWSGI's). */
  aliases: readonly string[];
  /** The value's shape, as the README shows it. */
  type: string;
  /** The value used when the key is absent, as written in a config; absent when there is none. */
  default?: string;
  /** A repeatable key is a list; any other key keeps its last value. */
  repeatable: boolean;
  required?: boolean;
  doc: string;
}

export const VASSAL_KEYS: readonly KeyDef[] = [
  { name: 'command', aliases: [], type: 'command line', required: true, repeatable: false, doc: 'The program and its arguments, split like a POSIX shell would (quotes, backslashes) and run without a shell.' },
  { name: 'processes', aliases: [], type: 'integer 1-4096', default: '1', repeatable: false, doc: 'How many workers run the command.' },
  { name: 'chdir', aliases: [], type: 'path', repeatable: false, doc: "The workers' working directory (default: the config's directory, or the emperor's for configs without a file)." },
  { name: 'env', aliases: [], type: 'KEY=VALUE', repeatable: true, doc: "An environment variable for the workers, on top of the emperor's; the last value of a KEY wins." },
  { name: 'uid', aliases: [], type: 'user name or number', repeatable: false, doc: 'Run the workers as this user (root emperor only; refused in tyrant mode).' },
  { name: 'gid', aliases: [], type: 'group name or number', repeatable: false, doc: 'Run the workers as this group (root emperor only; refused in tyrant mode).' },
  { name: 'ready', aliases: [], type: 'tcp:HOST:PORT | unix:PATH | http(s)://URL | file:PATH | alive[:MS]', default: 'alive:1000', repeatable: false, doc: 'When a started worker counts as ready: something accepts on the port or socket, the URL answers with a status below 500, the file exists, or it stayed alive MS milliseconds.' },
  { name: 'ready-timeout', aliases: [], type: 'seconds', default: '60', repeatable: false, doc: 'How long a start may take to become ready before it counts as failed.' },
  { name: 'stop-signal', aliases: [], type: 'signal', default: 'TERM', repeatable: false, doc: 'The signal that asks a worker to stop (name with or without SIG, or number).' },
  { name: 'stop-timeout', aliases: [], type: 'seconds', default: '10', repeatable: false, doc: 'Seconds between the stop signal and SIGKILL of the whole process group (and cgroup).' },
  { name: 'reload', aliases: [], type: 'restart | rolling | signal:SIG', default: 'restart', repeatable: false, doc: 'How a reload replaces workers: stop then start, start new ones and stop the old ones once the new are ready, or send a signal.' },
  { name: 'logto', aliases: [], type: 'path', repeatable: false, doc: "Append the workers' output to this file instead of the emperor's output." },

  { name: 'alarm', aliases: [], type: 'NAME ACTION:ARGS', repeatable: true, doc: 'Define an alarm: a unique NAME and the action it runs (log:, cmd:, signal:, curl:, xmpp:, or a plugin\'s).' },
  { name: 'log-alarm', aliases: ['alarm-log'], type: 'NAMES REGEX', repeatable: true, doc: 'Raise the named alarms (comma-separated) for each output line matching the RE2 regex.' },
  { name: 'not-log-alarm', aliases: ['not-alarm-log'], type: 'NAMES REGEX', repeatable: true, doc: 'A matching line stops the evaluation of the log-alarm rules after this one; order matters.' },
  { name: 'alarm-segfault', aliases: ['segfault-alarm'], type: 'NAMES', repeatable: true, doc: 'Raise the named alarms when a worker dies of SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, with its last output lines.' },
  { name: 'alarm-backlog', aliases: ['backlog-alarm', 'lq-alarm', 'alarm-lq', 'alarm-listen-queue', 'listen-queue-alarm'], type: 'NAMES', repeatable: true, doc: "Raise the named alarms when the accept queue of a socket the workers listen on is full." },
  { name: 'alarm-crash', aliases: [], type: 'NAMES', repeatable: true, doc: 'Raise the named alarms when a worker exits without being asked to.' },
  { name: 'alarm-freq', aliases: [], type: 'seconds', default: '3', repeatable: false, doc: 'The same message of the same alarm fires at most once in this window.' },
  { name: 'alarm-rate', aliases: [], type: 'integer', default: '0', repeatable: false, doc: 'At most this many firings of one alarm per minute (0: no cap).' },
  { name: 'alarm-msg-size', aliases: [], type: 'integer 1-1048576', default: '8192', repeatable: false, doc: 'Longer alarm messages are cut to this many bytes.' },
  { name: 'alarm-cheap', aliases: [], type: 'boolean', default: 'false', repeatable: false, doc: 'Run this vassal\'s alarm actions through one shared queue instead of each on its own (uWSGI\'s alarm-cheap).' },
  { name: 'alarm-timeout', aliases: [], type: 'seconds', default: '30', repeatable: false, doc: 'An action still running after this long is abandoned (and reported).' },

  { name: 'cgroup', aliases: [], type: 'name or path', repeatable: false, doc: 'Run the workers in this cgroup (relative names go under --cgroup-root); %(cgroup) is its absolute path.' },
  { name: 'cgroup-opt', aliases: [], type: 'FILE=VALUE', repeatable: true, doc: 'Write VALUE to the cgroup file FILE before the workers start (e.g. memory.limit_in_bytes=268435456).' },
  { name: 'alarm-eventfd', aliases: [], type: 'ALARM[:MSG] CONTROL SUBJECT [ARGS]', repeatable: true, doc: 'A cgroup v1 eventfd notification (memory threshold, OOM) that raises ALARM, as the uwsgi-eventfd plugin.' },
  { name: 'alarm-memory', aliases: [], type: 'ALARM BYTES', repeatable: true, doc: "Raise ALARM when the cgroup's memory usage crosses BYTES (K, M, G suffixes)." },
  { name: 'alarm-oom', aliases: [], type: 'NAMES', repeatable: true, doc: 'Raise the named alarms when the cgroup hits its memory limit (OOM).' },

  { name: 'on-demand', aliases: [], type: 'HOST:PORT | unix path', repeatable: false, doc: 'Bind this socket and start the vassal on the first connection; the workers inherit it.' },
  { name: 'on-demand-mode', aliases: [], type: 'octal mode', default: '0660', repeatable: false, doc: 'The permissions of an on-demand unix socket.' },
  { name: 'idle', aliases: [], type: 'seconds', repeatable: false, doc: 'An on-demand vassal with no connection for this long is stopped and waits again.' },
  { name: 'monitor', aliases: [], type: 'HOST:PORT', repeatable: false, doc: 'Serve health_check and perf_metrics for this vassal on this address.' },
  { name: 'monitor-offset', aliases: [], type: 'integer 0-65535', repeatable: false, doc: 'The monitor server listens on the vassal\'s `port` plus this offset (ftw.monitor uses 80).' },
  { name: 'port', aliases: [], type: 'integer 1-65535', repeatable: false, doc: 'The port the vassal serves: shown in stats and usable as %(port).' },
  { name: 'warmup', aliases: [], type: 'http(s)://URL', repeatable: false, doc: 'Request this URL once the workers are ready; health_check answers "Warmup in progress" until it is done, then OK.' },

  { name: 'set-placeholder', aliases: ['set-ph'], type: 'NAME=VALUE', repeatable: true, doc: 'Define %(NAME) for the other values (not a key itself).' },
];

const byName = new Map<string, KeyDef>();
for (const def of VASSAL_KEYS) {
  byName.set(def.name, def);
  for (const alias of def.aliases) byName.set(alias, def);
}

/** The definition of a key or alias. */
export function keyDef(name: string): KeyDef | undefined {
  return byName.get(name);
}

/** Every spelling accepted, for "did you mean". */
export function knownSpellings(): IterableIterator<string> {
  return byName.keys();
}
