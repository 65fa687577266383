/**
 * The `zmq://` monitor argument: `zmq://tcp://HOST:PORT` or `zmq://ipc:///PATH`, the endpoint
 * the emperor binds its PULL socket to.
 */
import { EmperorError, ErrorCodes } from '../../src/errors.js';

export interface ZmqTarget {
  /** The argument as given: the monitor id. */
  id: string;
  /** What the PULL socket binds (and publishers connect) to. */
  endpoint: string;
}

/** Accepts the monitor form (`zmq://tcp://...`) or a bare endpoint (`tcp://...`, `ipc://...`). */
export function parseZmqTarget(arg: string): ZmqTarget {
  const endpoint = arg.startsWith('zmq://') ? arg.slice('zmq://'.length) : arg;
  const usage = (why: string): EmperorError =>
    new EmperorError(ErrorCodes.USAGE, `zmq monitor ${JSON.stringify(arg)}: ${why}; expected zmq://tcp://HOST:PORT or zmq://ipc:///PATH`);
  if (endpoint.startsWith('tcp://')) {
    const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(endpoint);
    if (m === null) throw usage(`${JSON.stringify(endpoint)} is not HOST:PORT`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw usage(`port ${port} is out of range 1-65535`);
  } else if (endpoint.startsWith('ipc://')) {
    if (endpoint.length === 'ipc://'.length) throw usage('the ipc path is empty');
    if (endpoint.includes('\0')) throw usage('the ipc path contains a NUL byte');
  } else {
    throw usage(`transport of ${JSON.stringify(endpoint)} is not tcp:// or ipc://`);
  }
  return { id: arg.startsWith('zmq://') ? arg : `zmq://${arg}`, endpoint };
}
