import type { PluginDescriptor } from '../../src/plugin.js';
import { createZmqMonitor } from './monitor.js';

export { createZmqMonitor } from './monitor.js';
export { publishZmq } from './publish.js';

const plugin: PluginDescriptor = { name: 'zmq', monitors: { zmq: createZmqMonitor } };
export default plugin;
