/** What every entry exports of the client beside its own `SSHClient`. */

export type { ClientRuntime, ExecOptions, ExecResult, HostKeyInfo, KeyboardInteractiveHandler, ShellOptions, SSHClientOptions } from './client.js';
export { ClientSession, type DataListener, type ExitInfo, type PtyOptions } from './session.js';
