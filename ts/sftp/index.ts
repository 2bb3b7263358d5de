/**
 * SFTP (version 3, as OpenSSH speaks it) over a session channel, served from a filesystem the host chooses:
 * `MemoryFileSystem` on every runtime, `DirectoryFileSystem` where `node:fs/promises` exists, or its own
 * `SftpFileSystem`.
 */

import type { ChannelStreams } from '../channel-streams.js';
import { SftpSession, type SftpSessionOptions } from './session.js';

export { MemoryFileSystem, type MemoryDir, type MemoryFile, type MemoryFileSystemOptions } from './memory.js';
export { SftpError, type SftpDirEntry, type SftpFileSystem, type SftpOpenFlags } from './filesystem.js';
export { SftpStatus, type SftpAttrs, type SftpStatvfs } from './codec.js';
export { SftpSession, type SftpSessionOptions } from './session.js';

/** What `serveSftp` needs of the server: an `SSHServer` of any runtime. */
export interface SftpChannelHost {
  /** The channel as web streams. */
  channelStreams(connectionId: number, channelId: number): ChannelStreams;
  /** Closes the channel. */
  closeChannel(connectionId: number, channelId: number): Promise<void>;
}

/**
 * Serves SFTP on a channel whose `subsystem sftp` request was accepted: call it from the `channelRequested`
 * handler (the session starts reading once the handler returns). Resolves once the session ended and the
 * channel is closed; never rejects.
 */
export async function serveSftp(server: SftpChannelHost, connectionId: number, channelId: number, options: SftpSessionOptions): Promise<void> {
  let streams;
  try {
    streams = server.channelStreams(connectionId, channelId);
  } catch {
    return;
  }
  await new SftpSession(streams, options).run();
  await server.closeChannel(connectionId, channelId).catch(() => {});
}
