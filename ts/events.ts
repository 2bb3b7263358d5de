/**
 * The public event API: what each `SSHServer` event carries (decision events carry their own answer), and
 * the read-only views of connections and channels. Types only.
 */

import type { AuthorizedKey } from './authorized-keys.js';
import type { UserCertificate } from './certificates.js';
import type { AuthMethodName, ChannelRequestInfo } from './core/events.js';

export type { AuthMethodName, ChannelRequestInfo } from './core/events.js';

export interface KeyboardInteractivePrompt {
  prompt: string;
  echo: boolean;
}

export interface ConnectionRequestEvent {
  address: string;
  port: number;
  /**
   * Set to false (or call reject) to refuse. Default true, unless `refusedBy` names the list that keeps the
   * address out; a handler may still set it to true, as in the reference.
   */
  accept: boolean;
  /** The address is not in `AllowedClients`, or is in `BlockedClients`. */
  refusedBy?: 'AllowedClients' | 'BlockedClients';
  reject(): void;
}

export interface ConnectedEvent {
  connectionId: number;
  statusCode: number;
  description: string;
}

export interface ConnectionEvent {
  connectionId: number;
}

export interface SSHStatusEvent extends ConnectionEvent {
  message: string;
}

export interface LogEvent extends ConnectionEvent {
  logLevel: number;
  message: string;
  logType: string;
}

export interface ServiceRequestEvent extends ConnectionEvent {
  service: string;
  accept: boolean;
}

export interface UserAuthRequestEvent extends ConnectionEvent {
  user: string;
  service: string;
  authMethod: AuthMethodName;
  /**
   * Methods this login has already passed, oldest first (the steps answered with partial success). The
   * core keeps this chain: the user and service cannot change during a login, and a method the last
   * partial success did not list never reaches the handler.
   */
  methodsPassed: AuthMethodName[];
  /** For `password`. */
  password?: string;
  /**
   * For `publickey`. `signed` is false for a query ("would this key do?"): accepting it only tells the
   * client the key is acceptable, and the decision that counts comes with the signed request, whose
   * signature the core has verified before the handler sees it. `algorithm` is the signature algorithm the
   * request names; `openssh` is the key's `type base64` as an authorized_keys line has it. `certificate`:
   * an OpenSSH user certificate (`*-cert-v01@openssh.com`) whose CA signature the core verified, and that is
   * within its validity period and `source-address` (others never reach the handlers); `authorizedKey` is
   * set when a trusted CA signed it for this user.
   */
  publicKey?: { algorithm: string; blob: Uint8Array; openssh: string; signed: boolean; certificate?: UserCertificate };
  /**
   * For `publickey`, with `SSHServerOptions.authorizedKeys`: the line that lets this key in from this
   * address now. The step is then accepted unless a handler refuses it, and the line's options hold on the
   * connection from the signed request on.
   */
  authorizedKey?: AuthorizedKey;
  /** For `keyboard-interactive`: `responses` is undefined when the method starts. */
  keyboardInteractive?: { submethods: string; responses?: string[] };
  /**
   * This step passed. The login succeeds unless `AuthenticationMethods` needs further steps, in which case
   * the client is told of partial success and what may follow.
   */
  accept(): void;
  /** Refuses; `methods` narrows the methods the client is told it may still try. */
  reject(options?: { methods?: AuthMethodName[] }): void;
  /**
   * This step passed, but the client must also pass one of `methods` (default: what `AuthenticationMethods`
   * allows next, or every offered method): the reference's PartialSuccess.
   */
  partialSuccess(methods?: AuthMethodName[]): void;
  /**
   * Sends keyboard-interactive prompts (again), at most `MaxKeyboardInteractiveRounds` rounds per attempt.
   * `retry`: the previous answers were wrong; the round counts toward `MaxAuthAttempts` and waits out the
   * auth-failure delay, as a refusal would.
   */
  prompt(prompts: KeyboardInteractivePrompt[], options?: { name?: string; instruction?: string; retry?: boolean }): void;
}

export interface ChannelEvent extends ConnectionEvent {
  channelId: number;
}

export interface ChannelOpenRequestEvent extends ChannelEvent {
  /** Channel type, such as `session`. */
  service: string;
  /** Type-specific data of the open request. */
  parameters: Uint8Array;
  /** Default: true for `session`, false otherwise. */
  accept: boolean;
  reject(reason?: number, description?: string): void;
}

/**
 * A client asks for a tunnel (the reference's SSHTunnelRequested). `local` (`ssh -L`, `ssh -W`): a
 * `direct-tcpip` channel to `address`:`port`, which the server connects to itself once a handler accepts;
 * nobody accepting leaves the channel to `channelOpenRequest` (refused there by default), where a host may
 * take it and serve it in code. `remote` (`ssh -R`): a `tcpip-forward` request that the server listen on
 * `address`:`port` (port 0: any free one, which the client is told) and open a `forwarded-tcpip` channel to
 * the client for each connection there; it stops at `cancel-tcpip-forward` or the end of the connection.
 */
export interface SSHTunnelRequestedEvent extends ConnectionEvent {
  direction: 'local' | 'remote';
  /** `local`: the channel the client opened. */
  channelId?: number;
  address: string;
  port: number;
  /** `local`: where the client says the forwarded connection came from. */
  originatorAddress?: string;
  originatorPort?: number;
  /**
   * A Unix socket, also in `address` (and `port` 0): `local`, the one to connect to (OpenSSH's `ssh -L PORT:/path`,
   * `direct-streamlocal@openssh.com`); `remote`, the one to listen on (`ssh -R /path:HOST:PORT`,
   * `streamlocal-forward@openssh.com`, served where the runtime listens on Unix sockets: Node, Deno, Bun), whose
   * file the server creates and removes when the forward ends.
   */
  socketPath?: string;
  /** Default false: the server forwards nothing it was not told to. */
  accept: boolean;
  /**
   * Refuses; `local`: with an RFC 4254 reason code (default 1, administratively prohibited) and text the
   * client is shown (a refused `remote` request gets REQUEST_FAILURE, which carries neither).
   */
  reject(reason?: number, description?: string): void;
}

/** A tunnel's channel the server served has closed (the reference's SSHTunnelClosed), with the bytes each way. */
export interface SSHTunnelClosedEvent extends ChannelEvent {
  direction: 'local' | 'remote';
  address: string;
  port: number;
  /** A tunnel to or from a Unix socket: its path (also in `address`). */
  socketPath?: string;
  /** From the client, written to the target (`remote`: to the connection accepted on the server). */
  bytesIn: number;
  /** From the target, sent to the client. */
  bytesOut: number;
}

/** A global request the server does not serve itself (it serves `tcpip-forward` and keepalives). */
export interface GlobalRequestEvent extends ConnectionEvent {
  requestType: string;
  wantReply: boolean;
  /** What follows the name and flag. */
  data: Uint8Array;
  /** Default false. */
  accept: boolean;
  /** Sent after REQUEST_SUCCESS when accepted and a reply was asked for. */
  replyData?: Uint8Array;
}

export interface ChannelRequestEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
  wantReply: boolean;
  /** The request as a payload for `getSSHParam` (the reference's event payloads): channel, type, flag, fields. */
  readonly payload: Uint8Array;
  /** Default: true for pty-req, env, shell, exec, subsystem, window-change and signal. */
  accept: boolean;
  /**
   * The key's authorized_keys line forces a command (`command=`): `request` is that `exec`, and this is
   * what the client asked (an exec's command or a subsystem's name; undefined for a shell), as sshd's
   * SSH_ORIGINAL_COMMAND. `payload` is still the request the client sent.
   */
  originalCommand?: string;
}

export interface ChannelRequestedEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
  /** As on `ChannelRequestEvent`. */
  originalCommand?: string;
}

export interface ChannelDataInEvent extends ChannelEvent {
  data: Uint8Array;
  /** 0 for the data stream, 1 for stderr (extended data). */
  stream: number;
  /** With `setChannelEOL`: an EOL ended this piece (and was taken off); false: it reached the maximum length, or the EOF. */
  eolFound?: boolean;
}

export interface DisconnectedEvent extends ConnectionEvent {
  /** The RFC 4253 disconnect reason; 0 when the connection ended normally. */
  statusCode: number;
  description: string;
}

export interface ErrorEvent {
  connectionId: number;
  errorCode: number;
  description: string;
}

export interface SSHServerEvents {
  connectionRequest: ConnectionRequestEvent;
  connected: ConnectedEvent;
  sshStatus: SSHStatusEvent;
  log: LogEvent;
  serviceRequest: ServiceRequestEvent;
  userAuthRequest: UserAuthRequestEvent;
  channelOpenRequest: ChannelOpenRequestEvent;
  channelOpened: ChannelEvent;
  channelRequest: ChannelRequestEvent;
  channelRequested: ChannelRequestedEvent;
  channelDataIn: ChannelDataInEvent;
  channelEOF: ChannelEvent;
  channelReadyToSend: ChannelEvent;
  channelClosed: ChannelEvent;
  sshTunnelRequested: SSHTunnelRequestedEvent;
  sshTunnelClosed: SSHTunnelClosedEvent;
  globalRequest: GlobalRequestEvent;
  disconnected: DisconnectedEvent;
  error: ErrorEvent;
}

// ---- connections and channels -----------------------------------------------------------------------

/** A connected client (an entry of the reference's Connections collection). */
export interface SSHConnection {
  readonly connectionId: number;
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly clientVersion: string | undefined;
  /** The authenticated user, once there is one. */
  readonly user: string | undefined;
  readonly strictKex: boolean;
  /** Bytes read from the client so far. */
  readonly bytesReceived: number;
  /** Bytes written to the client so far (what its transport has not sent yet included). */
  readonly bytesSent: number;
  /** Bytes written to the client that its transport has not sent yet. */
  readonly bufferedAmount: number;
  /** What the last key exchange chose, once there was one. */
  readonly algorithms: NegotiatedAlgorithms | undefined;
  /** Milliseconds since the client last sent or was sent anything. */
  readonly idleMs: number;
}

/** The algorithms of a connection's current keys, by their names on the wire. */
export interface NegotiatedAlgorithms {
  kex: string;
  hostKey: string;
  cipherIn: string;
  cipherOut: string;
  /** Empty for an AEAD cipher. */
  macIn: string;
  macOut: string;
}

/** An open channel (an entry of the reference's Channels collection). */
export interface SSHChannel {
  readonly connectionId: number;
  readonly channelId: number;
  readonly service: string;
  /** Channel data (and stderr) received from the client so far. */
  readonly bytesReceived: number;
  /** Channel data the core has taken to send to the client so far. */
  readonly bytesSent: number;
  /**
   * Whether data sent now is taken at once: false while earlier sends wait, for the client's window (until
   * `channelReadyToSend` fires) or for its socket to drain.
   */
  readonly readyToSend: boolean;
}
