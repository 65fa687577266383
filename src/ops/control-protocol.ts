/**
 * The control socket's wire format: JSON lines. A request `{"id":1,"cmd":"status"}` gets one
 * answer with the same id, `{"id":1,"ok":true,"result":…}` or
 * `{"id":1,"ok":false,"error":{"code":"EMP_ERR_CONTROL","message":"no vassal named 'x'"}}`.
 * `logs` with `"follow":true` then streams `{"id":1,"event":"line","line":{time,pid,line}}` until
 * the client closes or `{"id":1,"event":"end","reason":…}`.
 */
import type { RecentLine } from '../core/vassal.js';

export type RequestId = string | number | null;

export interface ControlRequest {
  id?: RequestId;
  cmd: string;
  name?: string;
  lines?: number;
  follow?: boolean;
}

export interface ControlErrorBody {
  code: string;
  message: string;
}

export type ControlResponse = { id: RequestId; ok: true; result: unknown } | { id: RequestId; ok: false; error: ControlErrorBody };

export type ControlEvent =
  | { id: RequestId; event: 'line'; line: RecentLine }
  /** Lines not sent because the client read too slowly. */
  | { id: RequestId; event: 'dropped'; count: number }
  | { id: RequestId; event: 'end'; reason: string };

export type ControlMessage = ControlResponse | ControlEvent;

/** A longer request line is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Splits a stream of text into lines; `onLine` for each complete one. */
export class JsonLines {
  /** Pieces of the unfinished line: a long line costs linear time, not quadratic. */
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly onLine: (line: string) => void, private readonly maxBytes = Infinity, private readonly onOverflow?: () => void) {}

  push(chunk: string): void {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf('\n', start)) !== -1) {
      this.parts.push(chunk.slice(start, nl));
      const line = this.parts.join('');
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      if (line.trim() !== '') this.onLine(line);
    }
    if (start < chunk.length) {
      this.parts.push(chunk.slice(start));
      this.size += chunk.length - start;
    }
    if (this.size > this.maxBytes) {
      this.parts = [];
      this.size = 0;
      this.onOverflow?.();
    }
  }
}
