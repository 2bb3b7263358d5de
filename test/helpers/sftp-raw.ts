/** A raw SFTP client for tests: packets written as they are, replies read back by id. */

import { decodeReply, encodeRequest, type SftpReply, type SftpRequest } from '../../ts/sftp/codec.js';

/** A request without its id, which `send` assigns. */
export type Unnumbered = Exclude<SftpRequest, { type: 'init' }> extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export class RawSftp {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private buf = new Uint8Array(0);
  private readonly waiting = new Map<number, (r: SftpReply) => void>();
  private version: ((r: SftpReply) => void) | undefined;
  /** Resolves when the server's side ends (the channel closed or EOF). */
  readonly ended: Promise<void>;
  nextId = 1;

  constructor(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>) {
    this.writer = writable.getWriter();
    this.ended = this.pump(readable.getReader());
  }

  private async pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      const joined = new Uint8Array(this.buf.length + value.length);
      joined.set(this.buf);
      joined.set(value, this.buf.length);
      this.buf = joined;
      while (this.buf.length >= 4) {
        const n = new DataView(this.buf.buffer, this.buf.byteOffset).getUint32(0);
        if (this.buf.length < 4 + n) break;
        const reply = decodeReply(this.buf.subarray(4, 4 + n));
        this.buf = this.buf.slice(4 + n);
        if (reply.type === 'version') this.version?.(reply);
        else this.waiting.get(reply.id)?.(reply);
        if (reply.type !== 'version') this.waiting.delete(reply.id);
      }
    }
  }

  /** Writes bytes as they are (hostile packets). */
  write(bytes: Uint8Array): Promise<void> {
    return this.writer.write(bytes);
  }

  /** INIT, and the server's VERSION. */
  async init(): Promise<SftpReply> {
    const got = new Promise<SftpReply>((resolve) => (this.version = resolve));
    await this.write(encodeRequest({ type: 'init', version: 3, extensions: [] }));
    return got;
  }

  /** Sends a request with the next id (the id in `req` is replaced) and resolves with its reply. */
  send(req: Unnumbered): Promise<SftpReply> {
    const id = this.nextId++;
    const reply = this.reply(id);
    void this.write(encodeRequest({ ...req, id } as SftpRequest)).catch(() => {});
    return reply;
  }

  /** The reply to request `id`, sent by other means. */
  reply(id: number): Promise<SftpReply> {
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  close(): Promise<void> {
    return this.writer.close().catch(() => {});
  }
}
