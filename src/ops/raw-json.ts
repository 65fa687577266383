/**
 * An answer already serialized: the stats document of a large fleet is built as text in pieces,
 * and is sent as it is rather than parsed and stringified again in one long stretch.
 */
export class RawJson {
  /** The pieces of one JSON value, in order. */
  constructor(readonly pieces: readonly string[]) {}

  /** Inside a larger JSON.stringify, it stands for its value. */
  toJSON(): unknown {
    return JSON.parse(this.pieces.join('')) as unknown;
  }
}
