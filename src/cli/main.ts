#!/usr/bin/env node
/** The `emperor` command: wires options to subcommands; each subcommand lives in its own module. */
import { Command, CommanderError, Option } from 'commander';
import { hostname } from 'node:os';
import { describeError, isEmperorError } from '../errors.js';
import { CommandRefused, EmperorUnreachable } from '../ops/control-client.js';
import { defaultControlPath } from '../ops/control-path.js';
import { DEFAULT_CGROUP_ROOT } from '../isolation/cgroup-path.js';
import { UWSGI_DEFAULTS } from '../uwsgi/runtime.js';
import { registerControlCommands } from './commands/index.js';
import { registerSourceCommands } from './commands/sources.js';
import { DEFAULTS, defaultStateDir } from './defaults.js';
import { int, positive } from './option-parsers.js';
import { run, type RunOptions } from './run.js';

const collect = (value: string, prev: string[]): string[] => [...prev, value];

export function buildProgram(): Command {
  const program = new Command('emperor');
  // `emperor status --control X`: the subcommand's own --control, not the emperor's.
  program.enablePositionalOptions();
  program
    .description('Governs a fleet of vassals: watches where their configs live (directories, globs, databases, message buses) and spawns, reloads, restarts and stops them to match.')
    .argument('[monitors...]', 'config sources: DIR, a glob pattern, glob://PATTERN, dir://DIR, pg://…, mongodb://…, amqp://…, zmq://…')
    .option('--freq <seconds>', 'safety rescan / poll period of every monitor (dir and glob: beside a working inotify watch, each file is stat\'ed only every 20th time)', positive('--freq'), DEFAULTS.freq)
    .option('--extra-extension <ext>', 'accept config files with this extension too (repeatable); its format is sniffed from the content', collect, [])
    .option('--throttle <ms>', 'first backoff delay after a repeated crash; doubles on each further crash', int('--throttle', 1), DEFAULTS.throttle)
    .option('--max-throttle <ms>', 'cap of the crash backoff delay', int('--max-throttle', 1), DEFAULTS.maxThrottle)
    .option('--throttle-reset <ms>', 'a vassal up this long after a restart has its backoff reset', int('--throttle-reset', 1), DEFAULTS.throttleReset)
    .option('--vassals-include <file>', 'config file whose keys every vassal gets unless it sets them itself (repeatable)', collect, [])
    .option('--vassal-set <key=value>', 'set a key in every vassal, overriding its own value (repeatable)', collect, [])
    .option('--vassals-inherit <file>', 'uWSGI vassals: pass this file as --inherit, a template uWSGI reads without expanding its placeholders (repeatable)', collect, [])
    .option('--uwsgi-binary <path>', 'the uwsgi binary run for [uwsgi] configs without command (a path, or a name looked up in PATH)', UWSGI_DEFAULTS.binary)
    .option('--curse-tolerance <seconds>', 'uWSGI vassals: seconds a stopped instance may take to exit before SIGKILL', positive('--curse-tolerance'), UWSGI_DEFAULTS.curseTolerance)
    .option('--graceful-shutdown', 'uWSGI vassals: stop with a graceful shutdown (requests in flight complete) instead of a brutal one', UWSGI_DEFAULTS.gracefulShutdown)
    .option('--required-heartbeat <seconds>', 'uWSGI vassals: an instance silent this long after its first heartbeat is killed and respawned (0: not watched)', int('--required-heartbeat', 0, 86_400), UWSGI_DEFAULTS.requiredHeartbeat)
    .option('--broodlord <n>', 'uWSGI vassals: zergs (section [zerg] of the same config) that may run at once when instances send SOS (0: off)', int('--broodlord', 0, 4096), UWSGI_DEFAULTS.broodlord)
    .option('--settle <ms>', 'a config file still open for writing is read once closed; where the kernel cannot tell (no file leases), once unchanged this long; 0: read at once', int('--settle', 0, 60_000), DEFAULTS.settle)
    .option('--max-config-size <bytes>', 'largest config accepted from any source', int('--max-config-size', 1), DEFAULTS.maxConfigSize)
    .option('--node-name <name>', 'this host\'s name for %h in configs and database queries', hostname())
    .option('--state-dir <dir>', 'where message-fed vassals (amqp, zmq) are kept across restarts', defaultStateDir())
    .addOption(new Option('--log-format <format>', 'emperor output: JSON lines, or readable text; auto picks text on a terminal').choices(['auto', 'json', 'text']).default(DEFAULTS.logFormat))
    .addOption(new Option('--log-level <level>', 'least severe emperor event shown').choices(['debug', 'info', 'warn', 'error']).default(DEFAULTS.logLevel))
    .option('--plugin <module>', 'load a plugin module (path or package) providing monitors, actions or triggers (repeatable)', collect, [])
    .option('--recent-lines <n>', 'output lines kept per vassal for `emperor logs`', int('--recent-lines', 1, 1_000_000), DEFAULTS.recentLines)
    .option('--stats <address>', 'serve the stats JSON on HOST:PORT, :PORT (every interface) or a unix socket path: one document per connection (default: off)')
    .option('--stats-http', 'speak HTTP on --stats: GET / or /stats (JSON), GET /metrics (Prometheus)', false)
    .option('--control <path>', `control socket for emperor status, touch, logs… (mode 0600; default: ${defaultControlPath()})`)
    .option('--no-control', 'run without a control socket')
    .option('--cgroup-root <path>', 'where vassal cgroups go: a subtree under each controller\'s mount, created by the emperor; a vassal\'s relative `cgroup` is placed below it', DEFAULT_CGROUP_ROOT)
    .option('--tyrant', 'tyrant mode (root only): every vassal runs as the owner of its config file (or its row/message uid and gid), never as root', false)
    .option('--tyrant-nofollow', 'tyrant mode: the owner of a symlinked config is the link\'s own owner, not its target\'s', false)
    .option('--tyrant-initgroups', 'tyrant mode: give workers their user\'s supplementary groups (initgroups) instead of none', false)
    .showHelpAfterError()
    .action(async (monitors: string[], opts: RunOptions) => {
      await run(monitors, opts);
    });
  registerControlCommands(program);
  registerSourceCommands(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not errors; every bad argument is a usage error (exit 2).
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    process.stderr.write(`emperor: ${describeError(err)}\n`);
    // A command the emperor refused: 1; nobody answering on the control socket: 3 (as LSB
    // `status` says "not running").
    if (err instanceof CommandRefused) process.exit(1);
    if (err instanceof EmperorUnreachable) process.exit(3);
    process.exit(isEmperorError(err) && err.code === 'EMP_ERR_USAGE' ? 2 : 1);
  }
}

void main();
