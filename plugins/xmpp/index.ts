/** The xmpp plugin: alarms as Jabber/XMPP chat messages. */
import type { PluginDescriptor } from '../../src/plugin.js';
import { xmppAction } from './action.js';

const plugin: PluginDescriptor = { name: 'xmpp', actions: { xmpp: xmppAction } };

export default plugin;
