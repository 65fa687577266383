/** `emperor pg-setup CONN`: installs the NOTIFY trigger so table changes reach emperors at once. */
export interface PgSetupCliOptions {
  table?: string;
  channel?: string;
  print?: boolean;
}

export async function pgSetup(conn: string, opts: PgSetupCliOptions): Promise<string> {
  const setup = await import('../../../plugins/pg/setup.js');
  if (opts.print) {
    const { DEFAULT_CHANNEL } = await import('../../../plugins/pg/connection.js');
    return setup.pgSetupSql({ table: opts.table ?? setup.DEFAULT_TABLE, channel: opts.channel ?? DEFAULT_CHANNEL });
  }
  await setup.runPgSetup(conn, { ...(opts.table ? { table: opts.table } : {}), ...(opts.channel ? { channel: opts.channel } : {}) });
  return `installed the notify trigger on ${opts.table ?? setup.DEFAULT_TABLE}`;
}
