/** `xmpp:JID;PASSWORD;RCPT[,RCPT...]`: an alarm sent as a chat message to each recipient. */
import type { AlarmActionFactory } from '../../src/plugin.js';
import { parseXmppArgs } from './options.js';
import { XmppSession } from './session.js';

export const xmppAction: AlarmActionFactory = (args, host) => {
  const session = new XmppSession(parseXmppArgs(args), host.log);
  return {
    run(firing, { signal }) {
      return session.send(firing.message, signal);
    },
    close() {
      return session.close();
    },
  };
};
