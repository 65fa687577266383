/**
 * Turns a monitor argument into a monitor: `scheme://…` goes to the monitor of that scheme (built
 * in, or a plugin loaded on first use); a bare argument is a glob when it has glob magic and a
 * directory otherwise, as uWSGI decides.
 */
import { EmperorError, ErrorCodes } from '../errors.js';
import type { PluginTable } from '../plugin-table.js';
import type { Monitor, MonitorContext } from './types.js';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const GLOB_MAGIC = /[*?[\]{}]/;

export function monitorKind(arg: string): string {
  const m = SCHEME.exec(arg);
  if (m) return m[1]!.toLowerCase();
  return GLOB_MAGIC.test(arg) ? 'glob' : 'dir';
}

export async function createMonitor(arg: string, ctx: MonitorContext, plugins: PluginTable): Promise<Monitor> {
  const kind = monitorKind(arg);
  if (kind === 'dir') {
    const { createDirMonitor } = await import('./dir.js');
    return createDirMonitor(arg, ctx);
  }
  if (kind === 'glob') {
    const { createGlobMonitor } = await import('./glob.js');
    return createGlobMonitor(arg, ctx);
  }
  const factory = await plugins.monitor(kind);
  if (!factory) {
    throw new EmperorError(ErrorCodes.USAGE, `unknown monitor scheme '${kind}://' in '${arg}' (known: ${plugins.knownSchemes().map((s) => s + '://').join(', ')})`, { key: 'monitor' });
  }
  return factory(arg, ctx);
}
