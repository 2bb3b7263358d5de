/** Errors carry a stable numeric code (the reference component's where it has one) and a message a person can act on. */
export class SSHError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'SSHError';
  }
}

/** Codes used by the host. Core errors arrive as "[code] message" and keep their code. */
export const ErrorCode = {
  AlreadyListening: 104,
  InvalidConnectionId: 126,
  NoSuchChannel: 127,
  WrongState: 128,
  InvalidArgument: 129,
  WouldBlock: 135,
  CouldNotAuthenticate: 1300,
  NoHostKey: 1301,
  HostKeyPassphrase: 1302,
  HostKeyFormat: 1303,
  /** The client's `verifyHostKey` refused the server's key. */
  HostKeyNotAccepted: 1304,
  /** The client's connection ended: the server closed it, the transport was lost, or a protocol error. */
  ConnectionLost: 1310,
  /** The server refused to open a channel, or a request on one (a command, a pty). */
  ChannelRefused: 1311,
  /** The client's login did not finish within `timeoutMs`. */
  LoginTimeout: 1312,
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
  HostNotAllowedToConnect: 1,
  ProtocolError: 2,
  KeyExchangeFailed: 3,
  MacError: 5,
  CompressionError: 6,
  ServiceNotAvailable: 7,
  ProtocolVersionNotSupported: 8,
  HostKeyNotVerifiable: 9,
  ConnectionLost: 10,
  ByApplication: 11,
  TooManyConnections: 12,
  AuthCancelledByUser: 13,
  NoMoreAuthMethodsAvailable: 14,
  IllegalUserName: 15,
} as const;
