/** The curl plugin: http, https, smtp and smtps alarm actions. */
import type { PluginDescriptor } from '../../src/plugin.js';
import { curlAction } from './action.js';

const plugin: PluginDescriptor = { name: 'curl', actions: { curl: curlAction } };

export default plugin;
