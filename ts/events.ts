/**
 * The public event API: what each `SSHServer` event carries (decision events carry their own answer), and
 * the read-only views of connections and channels. Types only.
 */

import type { AuthMethodName, ChannelRequestInfo } from './core/events.js';

export type { AuthMethodName, ChannelRequestInfo } from './core/events.js';

export interface KeyboardInteractivePrompt {
  prompt: string;
  echo: boolean;
}

export interface ConnectionRequestEvent {
  address: string;
  port: number;
  /** Set to false (or call reject) to refuse. Default true. */
  accept: boolean;
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
   * signature the core has verified before the handler sees it.
   */
  publicKey?: { algorithm: string; blob: Uint8Array; openssh: string; signed: boolean };
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
 * A client asks for a tunnel (the reference's SSHTunnelRequested). `local`: `ssh -L` or `ssh -W`, a
 * `direct-tcpip` channel to `address`:`port`, which the server connects to itself once a handler accepts.
 * Nobody accepting leaves the channel to `channelOpenRequest` (refused there by default), where a host may
 * take it and serve it in code.
 */
export interface SSHTunnelRequestedEvent extends ChannelEvent {
  direction: 'local';
  address: string;
  port: number;
  /** Where the client says the forwarded connection came from. */
  originatorAddress: string;
  originatorPort: number;
  /** Default false: the server forwards nothing it was not told to. */
  accept: boolean;
  /** Refuses with an RFC 4254 reason code (default 1, administratively prohibited) the client is shown. */
  reject(reason?: number, description?: string): void;
}

/** A tunnel the server served has closed (the reference's SSHTunnelClosed), with the bytes each way. */
export interface SSHTunnelClosedEvent extends ChannelEvent {
  address: string;
  port: number;
  /** From the client, written to the target. */
  bytesIn: number;
  /** From the target, sent to the client. */
  bytesOut: number;
}

export interface ChannelRequestEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
  wantReply: boolean;
  /** Default: true for pty-req, env, shell, exec, subsystem, window-change and signal. */
  accept: boolean;
}

export interface ChannelRequestedEvent extends ChannelEvent {
  requestType: string;
  request: ChannelRequestInfo;
}

export interface ChannelDataInEvent extends ChannelEvent {
  data: Uint8Array;
  /** 0 for the data stream, 1 for stderr (extended data). */
  stream: number;
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
  /** Bytes written to the client that its transport has not sent yet. */
  readonly bufferedAmount: number;
}

/** An open channel (an entry of the reference's Channels collection). */
export interface SSHChannel {
  readonly connectionId: number;
  readonly channelId: number;
  readonly service: string;
}
