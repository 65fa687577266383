import type { PluginDescriptor } from '../../src/plugin.js';
import { createMongoMonitor } from './monitor.js';

const plugin: PluginDescriptor = {
  name: 'mongodb',
  monitors: { mongodb: createMongoMonitor, 'mongodb+srv': createMongoMonitor },
};
export default plugin;
