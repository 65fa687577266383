import type { PluginDescriptor } from '../../src/plugin.js';
import { createPgMonitor } from './monitor.js';

export { pgSetupSql, runPgSetup, DEFAULT_TABLE } from './setup.js';

const plugin: PluginDescriptor = {
  name: 'pg',
  monitors: { pg: createPgMonitor, postgres: createPgMonitor, postgresql: createPgMonitor },
};
export default plugin;
