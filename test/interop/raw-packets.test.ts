/**
 * Raw packets (the reference's SendSSHPacket, GetSSHParam, SetSSHParam) with Debian's OpenSSH client: a
 * channel request's payload read by field name, an exit-status built field by field and sent raw (ssh exits
 * with it), and the messages that would break the protocol state refused.
 */

import { expect, it } from 'vitest';
import { ErrorCode, getSSHParam, setSSHParam, SSHServer } from '../../ts/node/index.js';
import { closeAfterEach } from '../helpers/cleanup.js';
import { run, SSH_BASE } from '../helpers/demo.js';

const { servers } = closeAfterEach();

it('reads the exec request by field name, sends exit-status as a raw packet, and refuses what would break the protocol', async () => {
  const server = new SSHServer({ localPort: 0 });
  servers.push(server);
  server.generateHostKey();
  server.on('userAuthRequest', (e) => (e.authMethod === 'password' && e.password === 'pw' ? e.accept() : e.reject()));
  let command = '';
  server.on('channelRequest', (e) => {
    if (e.requestType === 'exec') command = getSSHParam(e.payload, 'Command');
  });
  const refusals: (number | undefined)[] = [];
  server.on('channelRequested', async (e) => {
    if (e.request.type !== 'exec') return;
    const { connectionId: c, channelId: ch } = e;
    const exitStatus = setSSHParam(setSSHParam(setSSHParam(new Uint8Array(0), 's', 'exit-status'), 'f', 'false'), 'i', '7');
    for (const [type, payload] of [
      [98, setSSHParam(setSSHParam(new Uint8Array(0), 's', 'exit-status'), 'f', 'true')], // asks for a reply
      [94, setSSHParam(new Uint8Array(0), 's', 'data past the window')],
      [20, new Uint8Array(16)],
    ] as const) {
      try {
        server.sendSSHPacket(c, ch, type, payload);
      } catch (err) {
        refusals.push((err as { code?: number }).code);
      }
    }
    await server.sendEOF(c, ch);
    server.sendSSHPacket(c, ch, 98, exitStatus);
    await server.closeChannel(c, ch);
  });
  const { port } = await server.startListening();

  const r = await run('sshpass', ['-p', 'pw', 'ssh', ...SSH_BASE, '-o', 'PubkeyAuthentication=no', '-p', String(port), 'u@127.0.0.1', 'ls -l /tmp']);

  expect(command).toBe('ls -l /tmp');
  expect(r.code).toBe(7);
  expect(refusals).toEqual([ErrorCode.InvalidArgument, ErrorCode.InvalidArgument, ErrorCode.InvalidArgument]);
});
