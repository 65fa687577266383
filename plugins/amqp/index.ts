import type { PluginDescriptor } from '../../src/plugin.js';
import { createAmqpMonitor } from './monitor.js';

export { createAmqpMonitor } from './monitor.js';
export { publishAmqp } from './publish.js';

const plugin: PluginDescriptor = { name: 'amqp', monitors: { amqp: createAmqpMonitor, amqps: createAmqpMonitor } };
export default plugin;
