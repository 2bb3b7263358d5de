/** Errors carry a stable numeric code (the reference component's where it has one) and a message a person can act on. */
export class SSHError extends Error {
  constructor(
    /** An `ErrorCode`, or a code of the core's (`[code] message`). */
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'SSHError';
  }
}

/** Codes used by the host. Core errors arrive as "[code] message" and keep their code. */
export const ErrorCode = {
  /** `startListening` or `startWebSocket` while already listening. */
  AlreadyListening: 104,
  /** No connection has this id (any more). */
  InvalidConnectionId: 126,
  /** The connection has no open channel with this id. */
  NoSuchChannel: 127,
  /** The call does not fit the state: a channel already served by streams, a session closed for writing. */
  WrongState: 128,
  /** A setting's or an argument's value is not valid; the message names it. */
  InvalidArgument: 129,
  /** The reference's "would block"; here sends are promises that wait instead. */
  WouldBlock: 135,
  /** The client could not log in: every method it had was refused. */
  CouldNotAuthenticate: 1300,
  /** The server has no host key, or a key file is damaged or was refused. */
  NoHostKey: 1301,
  /** A key file's passphrase is missing or wrong. */
  HostKeyPassphrase: 1302,
  /** A key file is in a format not read. */
  HostKeyFormat: 1303,
  /** The client's `verifyHostKey` refused the server's key. */
  HostKeyNotAccepted: 1304,
  /** The client's connection ended: the server closed it, the transport was lost, or a protocol error. */
  ConnectionLost: 1310,
  /** The server refused to open a channel, or a request on one (a command, a pty). */
  ChannelRefused: 1311,
  /** The client's login did not finish within `timeoutMs`. */
  LoginTimeout: 1312,
  /** The wasm instance failed (a bug): its connections were lost and a fresh instance took over. */
  WasmTrapped: 1400,
} as const;

/** Turns an error thrown by the wasm core into an SSHError. */
export function fromCoreError(e: unknown): SSHError {
  if (e instanceof SSHError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const m = /^\[(\d+)\] (.*)$/s.exec(message);
  if (m) return new SSHError(Number(m[1]), m[2]!);
  return new SSHError(ErrorCode.WasmTrapped, `wasm core failed: ${message}`);
}

/** RFC 4253 §11.1 disconnect reason codes. */
export const DisconnectReason = {
  /** Refused by the admission lists or limits. */
  HostNotAllowedToConnect: 1,
  /** A message not allowed or malformed. */
  ProtocolError: 2,
  /** No common algorithm, or a bad key exchange value. */
  KeyExchangeFailed: 3,
  /** A packet failed its integrity check. */
  MacError: 5,
  /** A compressed stream could not be inflated, or grew past its bound. */
  CompressionError: 6,
  /** A service was refused. */
  ServiceNotAvailable: 7,
  /** The version line matched no `SSHVersionPattern`. */
  ProtocolVersionNotSupported: 8,
  /** The client role refused the server's host key. */
  HostKeyNotVerifiable: 9,
  /** The transport ended without a disconnect message. */
  ConnectionLost: 10,
  /** `disconnect()` or a normal close. */
  ByApplication: 11,
  /** `MaxConnections` or `MaxStartups` reached. */
  TooManyConnections: 12,
  /** The user gave up a login. */
  AuthCancelledByUser: 13,
  /** `MaxAuthAttempts` reached, or no method left. */
  NoMoreAuthMethodsAvailable: 14,
  /** A user name not accepted. */
  IllegalUserName: 15,
} as const;
