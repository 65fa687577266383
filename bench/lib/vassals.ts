/**
 * The vassals benchmarks run. "Ready at once": /bin/sh (dash on Debian) creates the ready file with
 * a builtin redirection and then becomes `sleep`; the file exists after one exec of a small
 * program, the fastest honest start we found (see the baseline benchmark, which times the
 * candidates without any emperor). `sleep` dies on SIGTERM, as the destroy target asks.
 */
import { join } from 'node:path';

/** argv (as a config's `command` line) of the ready-at-once program for `readyFile`. */
export function instantCommand(readyFile: string): string {
  return `/bin/sh -c ': > ${readyFile}; exec sleep 100000'`;
}

/** A native vassal that is ready once `readyFile` exists. */
export function instantVassal(readyFile: string, extra = ''): string {
  return `[vassal]\ncommand = ${instantCommand(readyFile)}\nready = file:${readyFile}\nstop-timeout = 5\n${extra}`;
}

/**
 * A real uWSGI instance with no application (it boots in ~8 ms here): a unix socket and a hook
 * that writes `readyFile` when its worker starts accepting. The same lines serve as an ini file
 * for `uwsgi --emperor` and for our `[uwsgi]` section.
 */
export function uwsgiIni(socket: string, readyFile: string): string {
  return `[uwsgi]\nsocket = ${socket}\nhook-accepting1 = write:${readyFile} ok\n`;
}

/** The same uWSGI instance as a native vassal: the emperor runs `uwsgi --ini FILE` and probes the hook's file. */
export function uwsgiCommandVassal(iniPath: string, readyFile: string): string {
  return `[vassal]\ncommand = uwsgi --ini ${iniPath}\nready = file:${readyFile}\nstop-signal = INT\nstop-timeout = 10\n`;
}

export function readyName(name: string): string {
  return `${name}.ready`;
}

export function readyPath(dir: string, name: string): string {
  return join(dir, readyName(name));
}
