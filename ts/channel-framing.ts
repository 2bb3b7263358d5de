/**
 * How a channel's incoming data may be cut before `channelDataIn` (the reference's ChangeRecordLength, and
 * ChannelEOL with MaxChannelLength): as it arrives, in records of a fixed length, or in lines cut at an EOL
 * string (which is not delivered) or at a given length. Pieces are taken one at a time, so that a handler may
 * change the framing for what follows; what is left at the client's EOF goes out as a last, short piece.
 */

/** One piece for `channelDataIn`; `eolFound` for EOL framing: an EOL ended the piece (and was taken off). */
export interface Piece {
  data: Uint8Array;
  eolFound?: boolean;
}

export interface Framer {
  /** Bytes to cut, after those held. */
  hold(bytes: Uint8Array): void;
  /** The next complete piece, if the bytes held make one. */
  next(): Piece | undefined;
  /** What is held, taken out: the last piece at the client's EOF, or what a new framing starts from. */
  rest(): Piece | undefined;
}

/** Bytes held and cut from the front. */
class Held {
  private bytes: Uint8Array = new Uint8Array(0);

  get length(): number {
    return this.bytes.length;
  }

  add(more: Uint8Array): void {
    if (this.bytes.length === 0) {
      this.bytes = more;
      return;
    }
    const joined = new Uint8Array(this.bytes.length + more.length);
    joined.set(this.bytes);
    joined.set(more, this.bytes.length);
    this.bytes = joined;
  }

  /** The first `n` bytes, copied out, and `skip` more dropped. */
  take(n: number, skip = 0): Uint8Array {
    const out = this.bytes.slice(0, n);
    this.bytes = this.bytes.subarray(n + skip);
    return out;
  }

  /** Where `needle` starts such that it ends within the first `limit` bytes, or -1. */
  find(needle: Uint8Array, limit: number): number {
    const last = Math.min(this.bytes.length, limit) - needle.length;
    outer: for (let i = 0; i <= last; i++) {
      for (let j = 0; j < needle.length; j++) if (this.bytes[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }
}

/** As the data comes. */
export function passThrough(): Framer {
  const held = new Held();
  const all = (): Piece | undefined => (held.length > 0 ? { data: held.take(held.length) } : undefined);
  return { hold: (bytes) => held.add(bytes), next: all, rest: all };
}

/** Records of exactly `length` bytes. */
export function recordFramer(length: number): Framer {
  const held = new Held();
  return {
    hold: (bytes) => held.add(bytes),
    next: () => (held.length >= length ? { data: held.take(length) } : undefined),
    rest: () => (held.length > 0 ? { data: held.take(held.length) } : undefined),
  };
}

/** Lines that ended at `eol` (`eolFound`, the EOL taken off), or that reached `maxLength` bytes without one. */
export function eolFramer(eol: Uint8Array, maxLength: number): Framer {
  const held = new Held();
  return {
    hold: (bytes) => held.add(bytes),
    next() {
      const at = held.find(eol, maxLength + eol.length);
      if (at >= 0) return { data: held.take(at, eol.length), eolFound: true };
      if (held.length >= maxLength) return { data: held.take(maxLength), eolFound: false };
      return undefined;
    },
    rest: () => (held.length > 0 ? { data: held.take(held.length), eolFound: false } : undefined),
  };
}
