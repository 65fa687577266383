/** The identity a vassal runs with in tyrant mode, as its processes will hold it. */
export interface Credentials {
  uid: number;
  gid: number;
  /** The supplementary groups come from initgroups() for this user, else there are none. */
  initGroups?: string;
  /** Every group the processes hold (gid first): what permission checks made for them use. */
  groups: readonly number[];
}

/** The exec helper options that give a process these credentials, without a way back to more. */
export function helperCredentials(c: Credentials): { uid: number; gid: number; initGroups?: string; noNewPrivs: true } {
  return c.initGroups === undefined
    ? { uid: c.uid, gid: c.gid, noNewPrivs: true }
    : { uid: c.uid, gid: c.gid, initGroups: c.initGroups, noNewPrivs: true };
}

export function describeCredentials(c: Pick<Credentials, 'uid' | 'gid'>): string {
  return `uid ${c.uid} gid ${c.gid}`;
}
