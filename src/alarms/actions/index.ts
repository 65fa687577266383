/** The actions every emperor has without loading a plugin. */
import type { AlarmActionFactory } from '../../plugin.js';
import { cmdAction } from './cmd.js';
import { logAction } from './log.js';
import { signalAction } from './signal.js';

export const BUILTIN_ACTIONS: Readonly<Record<string, AlarmActionFactory>> = {
  log: logAction,
  cmd: cmdAction,
  signal: signalAction,
};
