/**
 * What `wasshd-ws-relay` (ts/node/ws-relay.ts) and a tab's `serveRelay` (ts/browser/relay.ts) say to each other.
 * The tab opens WebSockets to the relay and keeps one waiting; when an SSH client connects, the relay takes a
 * waiting WebSocket and sends it one text message naming the client, the pairing notice. From then on binary
 * messages carry that client's SSH byte stream both ways, as on every wasshd WebSocket endpoint.
 */

/** The SSH client a WebSocket was paired with, as the relay saw it. */
export interface Pairing {
  address: string;
  port: number;
}

/** Longer than any notice the relay sends: a text message past it is not one. */
const MAX_NOTICE_LENGTH = 256;

export function pairingNotice(client: Pairing): string {
  return JSON.stringify({ client: { address: client.address, port: client.port } });
}

/** The client a notice names, or undefined for anything else. */
export function parsePairing(text: string): Pairing | undefined {
  if (text.length > MAX_NOTICE_LENGTH) return undefined;
  try {
    const { client } = JSON.parse(text) as { client?: { address?: unknown; port?: unknown } };
    const { address, port } = client ?? {};
    if (typeof address !== 'string' || !Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) return undefined;
    return { address, port: port as number };
  } catch {
    return undefined;
  }
}
