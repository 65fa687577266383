/** `curl:URL;opt=val;...`: an alarm sent by HTTP(S) or by mail (SMTP, SMTPS). */
import type { AlarmActionFactory } from '../../src/plugin.js';
import { withTimeout } from './abort.js';
import { sendHttp } from './http.js';
import { parseCurlArgs } from './options.js';
import { sendMail } from './smtp.js';

export const curlAction: AlarmActionFactory = (args) => {
  const o = parseCurlArgs(args);
  const target = o.target;
  return {
    run(firing, { signal }) {
      const s = withTimeout(signal, o.timeoutMs);
      return target.kind === 'http' ? sendHttp(o, target, firing, s) : sendMail(o, target, firing, s);
    },
  };
};
