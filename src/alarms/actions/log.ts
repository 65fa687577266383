/** `log:[prefix]`: writes `ALARM: prefix message` to the vassal's log, marked as alarm output. */
import type { AlarmActionFactory } from '../../plugin.js';
import { ALARM_LOG_PREFIX } from '../prefix.js';

export const logAction: AlarmActionFactory = (args, host) => {
  const prefix = args.trim();
  const head = prefix.length > 0 ? `${ALARM_LOG_PREFIX} ALARM: ${prefix} ` : `${ALARM_LOG_PREFIX} ALARM: `;
  return {
    run(firing) {
      host.log.warn(head + firing.message, { alarm: firing.alarm });
      return Promise.resolve();
    },
  };
};
