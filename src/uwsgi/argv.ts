/**
 * The command line of a uWSGI vassal, laid out as uWSGI's emperor lays it out
 * (core/emperor.c vassal_new_argv): the operator's --vassal-set values first, then the config
 * under the flag of its format, then the --vassals-inherit and --vassals-include templates.
 *
 *   uwsgi [--set K=V]... --ini app.ini [--inherit T]... [--include I]...
 */
export interface UwsgiArgvOptions {
  binary: string;
  /** The vassal's name or path: its extension picks the flag. */
  name: string;
  /** What follows the flag: the file, `emperor://NAME`, or the private copy of a large config. */
  target: string;
  inherits: readonly string[];
  includes: readonly string[];
  sets: readonly (readonly [string, string])[];
}

const FLAGS: ReadonlyArray<readonly [string, string]> = [
  ['.ini', '--ini'],
  ['.xml', '--xml'],
  ['.yml', '--yaml'],
  ['.yaml', '--yaml'],
  ['.json', '--json'],
  ['.js', '--json'],
];

/** uWSGI's flag for a config name; any other extension (--extra-extension) is `--config`. */
export function formatFlag(name: string): string {
  return FLAGS.find(([ext]) => name.endsWith(ext))?.[1] ?? '--config';
}

export function uwsgiArgv(o: UwsgiArgvOptions): string[] {
  return [
    o.binary,
    ...o.sets.flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    formatFlag(o.name),
    o.target,
    ...o.inherits.flatMap((t) => ['--inherit', t]),
    ...o.includes.flatMap((i) => ['--include', i]),
  ];
}
