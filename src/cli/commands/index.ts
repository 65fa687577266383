/** Registers every subcommand that talks to a running emperor over its control socket. */
import type { Command } from 'commander';
import { registerActions } from './actions.js';
import { registerLogs } from './logs.js';
import { registerMetrics } from './metrics.js';
import { registerStatus } from './status.js';
import { registerTop } from './top.js';

export function registerControlCommands(program: Command): void {
  registerStatus(program);
  registerActions(program);
  registerLogs(program);
  registerMetrics(program);
  registerTop(program);
}
