/**
 * The uWSGI emperor protocol: single bytes over a socketpair whose vassal end is announced in
 * UWSGI_EMPEROR_FD, and configs over a second one (UWSGI_EMPEROR_FD_CONFIG). Values as uWSGI 2.0
 * sends and reads them (core/emperor.c, core/master_utils.c, core/utils.c).
 */

/** Bytes the emperor writes to a vassal. */
export const ToVassal = {
  /** Stop now: the master kills its workers and exits. */
  stop: 0,
  /** Graceful reload: workers finish their requests, the master re-execs and re-reads its config. */
  reload: 1,
  /** Graceful stop: workers finish their requests, then the instance exits. */
  gracefulStop: 2,
} as const;

/** Bytes a vassal writes to the emperor. */
export const FromVassal = {
  /** The master is up (sent once per process, not after a reload). */
  spawned: 1,
  /** "Send me my config": the vassal reads it from the config pipe next (after each reload). */
  configRequest: 2,
  /** Worker 1 accepts requests (after every start and every reload). */
  accepting: 5,
  /** The first request was served. */
  loyal: 17,
  /** Idle with die-on-idle: "stop me" (an on-demand vassal goes back to waiting). */
  voluntaryStop: 22,
  /** A worker is alive (every `heartbeat` seconds). */
  heartbeat: 26,
  /** All workers busy: "send reinforcements" (broodlord zergs). */
  sos: 30,
} as const;

export const ENV_EMPEROR_FD = 'UWSGI_EMPEROR_FD';
export const ENV_EMPEROR_FD_CONFIG = 'UWSGI_EMPEROR_FD_CONFIG';
export const ENV_BROODLORD_NUM = 'UWSGI_BROODLORD_NUM';

/** The uwsgi packet modifier1 of a pushed config. */
export const CONFIG_MODIFIER1 = 115;

/** uWSGI reads the config size as an unsigned 16-bit integer: larger configs cannot be pushed. */
export const MAX_PUSHED_CONFIG_BYTES = 0xffff;

/** The section zergs read from their base vassal's file (`--ini app.ini:zerg`). */
export const ZERG_SECTION = 'zerg';
