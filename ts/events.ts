/**
 * The public event API: what each `SSHServer` event carries (decision events carry their own answer), and
 * the read-only views of connections and channels. Types only.
 */

import type { AuthorizedKey } from './authorized-keys.js';
import type { UserCertificate } from './certificates.js';

/** An authentication method's name on the wire. */
export type AuthMethodName = 'none' | 'password' | 'publickey' | 'keyboard-interactive';

/** A channel request's fields, decoded by its type (RFC 4254 §6). */
export type ChannelRequestInfo =
  | {
      /** A pseudo-terminal. */
      type: 'pty-req';
      /** The TERM value, such as `xterm-256color`. */
      term: string;
      /** Width in characters. */
      cols: number;
      /** Height in rows. */
      rows: number;
      /** Width in pixels (often 0). */
      widthPx: number;
      /** Height in pixels (often 0). */
      heightPx: number;
      /** The encoded terminal modes (RFC 4254 §8). */
      modes: Uint8Array;
    }
  | {
      /** An environment variable for the shell or command to come. */
      type: 'env';
      /** The variable's name. */
      name: string;
      /** Its value. */
      value: string;
    }
  | {
      /** The user's shell. */
      type: 'shell';
    }
  | {
      /** A command. */
      type: 'exec';
      /** The command as UTF-8 text. */
      command: string;
      /** The command's bytes as sent, for commands that are not UTF-8. */
      commandBytes: Uint8Array;
    }
  | {
      /** A subsystem, such as `sftp`. */
      type: 'subsystem';
      /** The subsystem's name. */
      name: string;
    }
  | {
      /** The client's terminal changed size. */
      type: 'window-change';
      /** Width in characters. */
      cols: number;
      /** Height in rows. */
      rows: number;
      /** Width in pixels. */
      widthPx: number;
      /** Height in pixels. */
      heightPx: number;
    }
  | {
      /** A signal for the running command. */
      type: 'signal';
      /** The signal's name without `SIG`, such as `INT`. */
      name: string;
    }
  | {
      /** Any other request. */
      type: 'other';
      /** The request's name on the wire. */
      name: string;
      /** What follows the name and want-reply flag. */
      data: Uint8Array;
    };

/** One question of a keyboard-interactive round. */
export interface KeyboardInteractivePrompt {
  /** The text the client shows, such as `Password: `. */
  prompt: string;
  /** Whether the client may show what the user types (false for secrets). */
  echo: boolean;
}

/** A client has connected, before any SSH byte is exchanged (the reference's ConnectionRequest). */
export interface ConnectionRequestEvent {
  /** The client's address, as the transport reports it (IPv4, IPv6, or the WebSocket's forwarded address). */
  address: string;
  /** The client's port. */
  port: number;
  /**
   * Set to false (or call reject) to refuse. Default true, unless `refusedBy` names the list that keeps the
   * address out; a handler may still set it to true, as in the reference.
   */
  accept: boolean;
  /** The address is not in `AllowedClients`, or is in `BlockedClients`. */
  refusedBy?: 'AllowedClients' | 'BlockedClients';
  /** Refuses the client: its transport is closed before any SSH byte is sent. */
  reject(): void;
}

/** An admitted client has a connection id; the SSH handshake starts (the reference's Connected). */
export interface ConnectedEvent {
  /** The id every later event and method of this connection uses. */
  connectionId: number;
  /** 0: connected (the reference's status code). */
  statusCode: number;
  /** `OK`. */
  description: string;
}

/** The part every event of one connection has. */
export interface ConnectionEvent {
  /** Which connection, as `connected` announced it. */
  connectionId: number;
}

/** A step of the SSH protocol of one connection, in words (the reference's SSHStatus): key exchanges, logins. */
export interface SSHStatusEvent extends ConnectionEvent {
  /** One line, such as `key exchange: curve25519-sha256, aes128-gcm@openssh.com`. */
  message: string;
}

/** A log line, at the levels `LogLevel` selects (the reference's Log); connection id 0 for the server's own. */
export interface LogEvent extends ConnectionEvent {
  /** 1 information, 2 detail, 3 every packet (secrets masked unless `MaskSensitiveData=false`). */
  logLevel: number;
  /** The line. */
  message: string;
  /** What logged it: `SSH` for the protocol. */
  logType: string;
}

/** The client asks for a service, `ssh-userauth` before logging in (the reference's SSHServiceRequest). */
export interface ServiceRequestEvent extends ConnectionEvent {
  /** The service's name. */
  service: string;
  /** Default true; false refuses, and the client is disconnected (SERVICE_NOT_AVAILABLE). */
  accept: boolean;
}

/**
 * One authentication step of a client (the reference's SSHUserAuthRequest): answer with `accept`, `reject`,
 * `partialSuccess` or, for keyboard-interactive, `prompt`. The handler may be async; the connection reads
 * nothing more from the client until it answers. Not answering refuses.
 */
export interface UserAuthRequestEvent extends ConnectionEvent {
  /** The user name the client sent. */
  user: string;
  /** The service the login is for, `ssh-connection`. */
  service: string;
  /** The method of this step. */
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
  publicKey?: {
    /** The signature algorithm, such as `ssh-ed25519` or `rsa-sha2-512`. */
    algorithm: string;
    /** The public key in SSH wire form. */
    blob: Uint8Array;
    /** `type base64`, as an authorized_keys line has it. */
    openssh: string;
    /** True once the core has verified the client's signature; false for a query. */
    signed: boolean;
    /** An OpenSSH user certificate the key came in (see above). */
    certificate?: UserCertificate;
  };
  /**
   * For `publickey`, with `SSHServerOptions.authorizedKeys`: the line that lets this key in from this
   * address now. The step is then accepted unless a handler refuses it, and the line's options hold on the
   * connection from the signed request on.
   */
  authorizedKey?: AuthorizedKey;
  /** For `keyboard-interactive`: `responses` is undefined when the method starts. */
  keyboardInteractive?: {
    /** The client's hint of the submethods it would like (RFC 4256); usually empty. */
    submethods: string;
    /** The answers to the last `prompt`, in its order. */
    responses?: string[];
  };
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

/** The part every event of one channel has. */
export interface ChannelEvent extends ConnectionEvent {
  /** The server's id of the channel (its local channel number). */
  channelId: number;
}

/** The client opens a channel (the reference's SSHChannelOpenRequest); `channelOpened` follows if accepted. */
export interface ChannelOpenRequestEvent extends ChannelEvent {
  /** Channel type, such as `session`. */
  service: string;
  /** Type-specific data of the open request. */
  parameters: Uint8Array;
  /** Default: true for `session`, false otherwise. */
  accept: boolean;
  /** Refuses with an RFC 4254 reason code (default 1, administratively prohibited) and text the client is shown. */
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
  /** `local` for `ssh -L`/`-W` (the server connects out), `remote` for `ssh -R` (the server listens). */
  direction: 'local' | 'remote';
  /** `local`: the channel the client opened. */
  channelId?: number;
  /** `local`: the host to connect to; `remote`: the address to listen on (empty or `0.0.0.0`: all). */
  address: string;
  /** `local`: the port to connect to; `remote`: the port to listen on (0: any free one). */
  port: number;
  /** `local`: where the client says the forwarded connection came from. */
  originatorAddress?: string;
  /** `local`: the port of `originatorAddress`. */
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
  /** As in `sshTunnelRequested`. */
  direction: 'local' | 'remote';
  /** `local`: the target connected to; `remote`: the address of the connection accepted. */
  address: string;
  /** The port of `address`. */
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
  /** The request's name, such as `no-more-sessions@openssh.com`. */
  requestType: string;
  /** Whether the client waits for REQUEST_SUCCESS or REQUEST_FAILURE. */
  wantReply: boolean;
  /** What follows the name and flag. */
  data: Uint8Array;
  /** Default false. */
  accept: boolean;
  /** Sent after REQUEST_SUCCESS when accepted and a reply was asked for. */
  replyData?: Uint8Array;
}

/**
 * A request on a channel, to decide (the reference's SSHChannelRequest): `pty-req`, `env`, `shell`, `exec`,
 * `subsystem`, `window-change`, `signal` and others. Other channels go on while the handler decides.
 * `channelRequested` follows when it is accepted.
 */
export interface ChannelRequestEvent extends ChannelEvent {
  /** The request's name on the wire. */
  requestType: string;
  /** The request's fields, decoded by type. */
  request: ChannelRequestInfo;
  /** Whether the client waits for CHANNEL_SUCCESS or CHANNEL_FAILURE. */
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

/** A channel request was accepted and answered: act on it (the reference's SSHChannelRequested), such as start the shell. */
export interface ChannelRequestedEvent extends ChannelEvent {
  /** The request's name on the wire. */
  requestType: string;
  /** The request's fields, decoded by type. */
  request: ChannelRequestInfo;
  /** As on `ChannelRequestEvent`. */
  originalCommand?: string;
}

/**
 * Data from the client on a channel (the reference's SSHChannelDataIn). The channel's window reopens when the
 * handler (and any promise it returns) is done, which is how a slow consumer holds the client back.
 */
export interface ChannelDataInEvent extends ChannelEvent {
  /** The bytes, the handler's to keep. */
  data: Uint8Array;
  /** 0 for the data stream, 1 for stderr (extended data). */
  stream: number;
  /** With `setChannelEOL`: an EOL ended this piece (and was taken off); false: it reached the maximum length, or the EOF. */
  eolFound?: boolean;
}

/** A connection has ended, by either side or by a lost transport (the reference's Disconnected). */
export interface DisconnectedEvent extends ConnectionEvent {
  /** The RFC 4253 disconnect reason; 0 when the connection ended normally. */
  statusCode: number;
  /** The reason in words (`OK` when normal). */
  description: string;
}

/** Something went wrong that the application did not call for (the reference's Error): a refused send, a failed forward. */
export interface ErrorEvent {
  /** The connection it happened on, or 0 for the server. */
  connectionId: number;
  /** An `ErrorCode`. */
  errorCode: number;
  /** What happened. */
  description: string;
}

/** Every event of `SSHServer`, by name, with what its handlers receive (`server.on(name, handler)`). */
export interface SSHServerEvents {
  /** A client connected; refuse it here before any SSH byte. */
  connectionRequest: ConnectionRequestEvent;
  /** An admitted client has its connection id. */
  connected: ConnectedEvent;
  /** A protocol step, in words. */
  sshStatus: SSHStatusEvent;
  /** A log line at the `LogLevel` set. */
  log: LogEvent;
  /** The client asks for a service. */
  serviceRequest: ServiceRequestEvent;
  /** An authentication step to decide ({@link UserAuthRequestEvent}). */
  userAuthRequest: UserAuthRequestEvent;
  /** The client opens a channel. */
  channelOpenRequest: ChannelOpenRequestEvent;
  /** A channel is open. */
  channelOpened: ChannelEvent;
  /** A channel request to decide. */
  channelRequest: ChannelRequestEvent;
  /** A channel request was accepted: act on it. */
  channelRequested: ChannelRequestedEvent;
  /** Data from the client on a channel. */
  channelDataIn: ChannelDataInEvent;
  /** The client will send no more data on the channel. */
  channelEOF: ChannelEvent;
  /** A send that waited for the client's window can go on (see {@link SSHChannel.readyToSend}). */
  channelReadyToSend: ChannelEvent;
  /** A channel is closed by both sides; its id may be reused. */
  channelClosed: ChannelEvent;
  /** The client asks for a tunnel. */
  sshTunnelRequested: SSHTunnelRequestedEvent;
  /** A served tunnel's channel closed. */
  sshTunnelClosed: SSHTunnelClosedEvent;
  /** A global request the server does not serve itself. */
  globalRequest: GlobalRequestEvent;
  /** A connection ended. */
  disconnected: DisconnectedEvent;
  /** An error outside any call of the application's. */
  error: ErrorEvent;
}

// ---- connections and channels -----------------------------------------------------------------------

/** A connected client (an entry of the reference's Connections collection). */
export interface SSHConnection {
  /** The connection's id. */
  readonly connectionId: number;
  /** The client's address. */
  readonly remoteHost: string;
  /** The client's port. */
  readonly remotePort: number;
  /** The client's version line (`SSH-2.0-OpenSSH_9.2p1 …`), once received. */
  readonly clientVersion: string | undefined;
  /** The authenticated user, once there is one. */
  readonly user: string | undefined;
  /** Whether strict key exchange (the Terrapin countermeasure) is in force. */
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
  /** The key exchange method. */
  kex: string;
  /** The host key's signature algorithm. */
  hostKey: string;
  /** The cipher of what the client sends. */
  cipherIn: string;
  /** The cipher of what the server sends. */
  cipherOut: string;
  /** The MAC of what the client sends; empty for an AEAD cipher. */
  macIn: string;
  /** The MAC of what the server sends; empty for an AEAD cipher. */
  macOut: string;
}

/** An open channel (an entry of the reference's Channels collection). */
export interface SSHChannel {
  /** The connection the channel is on. */
  readonly connectionId: number;
  /** The channel's id on its connection. */
  readonly channelId: number;
  /** The channel type, such as `session` or `direct-tcpip`. */
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
