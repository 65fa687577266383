/** The cgroup-eventfd plugin: memory threshold and OOM triggers on a vassal's cgroup. */
import type { PluginDescriptor, TriggerFactory } from '../../src/plugin.js';
import { EventfdTrigger } from './eventfd-trigger.js';
import { MemoryTrigger } from './memory-trigger.js';
import { OomTrigger } from './oom-trigger.js';

const alarmEventfd: TriggerFactory = (values, host) => new EventfdTrigger(values, host).start();
const alarmMemory: TriggerFactory = (values, host) => new MemoryTrigger(values, host).start();
const alarmOom: TriggerFactory = (values, host) => new OomTrigger(values, host).start();

const plugin: PluginDescriptor = {
  name: 'cgroup-eventfd',
  triggers: { 'alarm-eventfd': alarmEventfd, 'alarm-memory': alarmMemory, 'alarm-oom': alarmOom },
};

export default plugin;
