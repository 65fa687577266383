/** `emperor status [NAME...]`: the fleet as a table (or JSON), as `supervisorctl status`. */
import type { Command } from 'commander';
import type { StatusResult } from '../../ops/status.js';
import { CommandRefused } from '../../ops/control-client.js';
import { statusTable } from '../status-table.js';
import { controlCommand, print, withClient, type ControlOptions } from './client.js';

export function registerStatus(program: Command): void {
  controlCommand(program, 'status', 'show every vassal (or the named ones): state, pids, uptime, restarts, memory')
    .argument('[names...]', 'only these vassals')
    .option('--json', 'print the rows as JSON')
    .action(async (names: string[], opts: ControlOptions & { json?: boolean }) => {
      const result = (await withClient(opts, (c) => c.request({ cmd: 'status' }))) as StatusResult;
      let rows = result.rows;
      if (names.length > 0) {
        const stem = (n: string): string => n.replace(/\.[^.]*$/, '');
        const missing = names.filter((n) => !rows.some((r) => r.name === n || stem(r.name) === n));
        rows = rows.filter((r) => names.includes(r.name) || names.includes(stem(r.name)));
        if (missing.length > 0) {
          if (rows.length > 0) await print(opts.json ? JSON.stringify({ ...result, rows }, null, 2) + '\n' : statusTable(rows) + '\n');
          throw new CommandRefused('EMP_ERR_CONTROL', `no vassal named ${missing.map((m) => `'${m}'`).join(', ')}`);
        }
      }
      await print(opts.json ? JSON.stringify({ ...result, rows }, null, 2) + '\n' : (rows.length > 0 ? statusTable(rows) : 'no vassals') + '\n');
    });
}
