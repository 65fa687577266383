/** `emperor touch|destroy|reload-all|unthrottle`: one command each, answered by the emperor. */
import type { Command } from 'commander';
import { controlCommand, print, withClient, type ControlOptions } from './client.js';

async function run(opts: ControlOptions, req: { cmd: string; name?: string }): Promise<void> {
  const result = (await withClient(opts, (c) => c.request(req))) as { message?: string };
  await print(`${result.message ?? 'done'}\n`);
}

export function registerActions(program: Command): void {
  controlCommand(program, 'touch', 'reload a vassal with its current config (as touching its file)')
    .argument('<name>', 'the vassal (its extension may be left out)')
    .action((name: string, opts: ControlOptions) => run(opts, { cmd: 'touch', name }));
  controlCommand(program, 'destroy', 'stop a vassal; it stays down until its config source announces it again')
    .argument('<name>', 'the vassal (its extension may be left out)')
    .action((name: string, opts: ControlOptions) => run(opts, { cmd: 'destroy', name }));
  controlCommand(program, 'reload-all', 'reload every vassal (as SIGHUP)')
    .action((opts: ControlOptions) => run(opts, { cmd: 'reload-all' }));
  controlCommand(program, 'unthrottle', 'restart vassals waiting in crash backoff now, forgetting their crash history')
    .argument('[name]', 'only this vassal (default: every vassal in backoff)')
    .action((name: string | undefined, opts: ControlOptions) => run(opts, { cmd: 'unthrottle', ...(name === undefined ? {} : { name }) }));
}
