/** Subcommands that talk to config sources rather than to a running emperor: publish, pg-setup. */
import type { Command } from 'commander';
import { int } from '../option-parsers.js';
import { pgSetup, type PgSetupCliOptions } from './pg-setup.js';
import { publish, type PublishOptions } from './publish.js';

export function registerSourceCommands(program: Command): void {
  program
    .command('publish')
    .description('send a vassal config to emperors over AMQP or ZeroMQ, as the amqp:// and zmq:// monitors read it')
    .argument('<target>', 'amqp://USER:PASS@HOST:PORT/VHOST[?exchange=…] or zmq://tcp://HOST:PORT (the emperor\'s own argument)')
    .argument('[words...]', 'amqp: a config path or http(s) URL; zmq: COMMAND NAME (touch app.ini, destroy app.ini)')
    .option('--name <name>', 'amqp: the vassal name (routing key); the body is then the config itself')
    .option('--file <path>', 'read the config text from this file')
    .option('--body <text>', 'the config text (or, for amqp without --name, the path or URL)')
    .option('--remove', 'amqp with --name: remove the vassal (empty body)', false)
    .option('--uid <uid>', 'tyrant mode: the user the vassal runs as', int('--uid', 1, 4294967294))
    .option('--gid <gid>', 'tyrant mode: the group the vassal runs as', int('--gid', 1, 4294967294))
    .option('--socket <address>', 'an on-demand socket for the vassal (tcp HOST:PORT or a unix path)')
    .option('--timeout <ms>', 'give up when no broker confirms / no emperor takes the message in this time', int('--timeout', 1), 10_000)
    .action(async (target: string, words: string[], opts: PublishOptions) => {
      process.stdout.write((await publish(target, words, opts)) + '\n');
    });

  program
    .command('pg-setup')
    .description('install the trigger that NOTIFYs pg:// monitors whenever the vassals table changes (idempotent)')
    .argument('<connection>', "the monitor's connection: 'host=… dbname=…', postgres://…, or the whole pg://…;QUERY argument")
    .option('--table <name>', 'the vassals table', 'vassals')
    .option('--channel <name>', 'the LISTEN/NOTIFY channel (default: the connection\'s channel=, else emperor_vassals)')
    .option('--print', 'print the SQL instead of running it', false)
    .action(async (conn: string, opts: PgSetupCliOptions) => {
      process.stdout.write((await pgSetup(conn, opts)) + '\n');
    });
}
