/**
 * Where a vassal's monitor server listens: `monitor = HOST:PORT` (`:PORT` for every interface),
 * or `monitor-offset = N` added to its `port` key (every interface, as ftw.monitor's
 * instance port + 80).
 */
import type { VassalConfig } from '../config/types.js';

export interface MonitorAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

export type MonitorAddressResult = { address: MonitorAddress } | { none: true } | { error: string };

export function monitorAddress(config: Pick<VassalConfig, 'monitor' | 'monitorOffset' | 'port'>): MonitorAddressResult {
  if (config.monitor !== undefined) {
    const colon = config.monitor.lastIndexOf(':');
    let host = config.monitor.slice(0, colon);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    return { address: { host: host === '' ? undefined : host, port: Number(config.monitor.slice(colon + 1)) } };
  }
  if (config.monitorOffset === undefined) return { none: true };
  if (config.port === undefined) return { error: 'monitor-offset needs the port key (the monitor listens on port + offset)' };
  const port = config.port + config.monitorOffset;
  if (port > 65535) return { error: `monitor-offset: port ${config.port} + ${config.monitorOffset} = ${port} is above 65535` };
  return { address: { host: undefined, port } };
}

export function formatAddress(a: MonitorAddress): string {
  const host = a.host === undefined ? '*' : a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}`;
}
