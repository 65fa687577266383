/** `emperor logs NAME [-f] [-n N]`: a vassal's recent output lines, then (with -f) the new ones. */
import type { Command } from 'commander';
import type { RecentLine } from '../../core/vassal.js';
import type { LogsResult } from '../../ops/commands.js';
import { int } from '../option-parsers.js';
import { controlCommand, print, withClient, type ControlOptions } from './client.js';

const format = (l: RecentLine): string => `${new Date(l.time).toISOString()} [${l.pid}] ${l.line}\n`;

export function registerLogs(program: Command): void {
  controlCommand(program, 'logs', 'print a vassal\'s recent output lines (kept per vassal: --recent-lines of the emperor)')
    .argument('<name>', 'the vassal (its extension may be left out)')
    .option('-f, --follow', 'then print new lines as they come, until interrupted')
    .option('-n, --lines <n>', 'only the last N lines (default: every line kept)', int('--lines', 0, 1_000_000))
    .action(async (name: string, opts: ControlOptions & { follow?: boolean; lines?: number }) => {
      // A reader that went away (| head) ends the command quietly.
      process.stdout.on('error', () => process.exit(0));
      if (!opts.follow) {
        const r = (await withClient(opts, (c) => c.request({ cmd: 'logs', name, ...(opts.lines === undefined ? {} : { lines: opts.lines }) }))) as LogsResult;
        await print(r.lines.map(format).join(''));
        return;
      }
      await withClient(opts, async (c) => {
        const interrupted = new Promise<string>((resolve) => {
          for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(''));
        });
        const reason = await Promise.race([
          c.follow(name, opts.lines, (l) => process.stdout.write(format(l)), (n) => process.stderr.write(`emperor: ${n} lines dropped (reading too slowly)\n`)),
          interrupted,
        ]);
        if (reason) process.stderr.write(`emperor: ${reason}\n`);
      });
    });
}
