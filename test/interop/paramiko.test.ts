/**
 * Forwarding with a second client, paramiko (PyPI, pinned in scripts/setup.sh), through a loopback TCP echo
 * service, 16 MiB byte-exact each way: a `direct-tcpip` channel it opens (local forwarding), and a
 * `tcpip-forward` on port 0 whose bound port it is told and whose `forwarded-tcpip` channels it connects to the
 * echo service (remote forwarding).
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, sha256hex, testData } from '../helpers/demo.js';
import { forwardingKit, PASSWORD, roundTrip, until } from '../helpers/forwarding.js';

const SIZE = 16 * 1024 * 1024;
const root = new URL('../..', import.meta.url).pathname;
const PYTHON = join(root, '.tools/paramiko/bin/python');
const SCRIPT = join(root, 'test/helpers/paramiko_forward.py');

const { cleanup, echoService, tunnelServer } = forwardingKit();

function requireParamiko(): void {
  if (!existsSync(PYTHON)) throw new Error(`paramiko is missing at ${PYTHON}: run bash scripts/setup.sh`);
}

describe('forwarding with paramiko', () => {
  it('local (direct-tcpip): 16 MiB to the echo service and back byte-exact, with the counts in sshTunnelClosed', async () => {
    requireParamiko();
    const echo = await echoService();
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.address === '127.0.0.1'));
    const data = testData(SIZE, 71);

    const r = await run(PYTHON, [SCRIPT, String(port), PASSWORD, 'local', String(echo.port)], data);

    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(SIZE);
    expect(sha256hex(r.stdout)).toBe(sha256hex(data));
    expect(requested.map((e) => [e.direction, e.address, e.port])).toEqual([['local', '127.0.0.1', echo.port]]);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ direction: 'local', bytesIn: SIZE, bytesOut: SIZE });
  });

  it('remote (tcpip-forward, port 0): told the bound port, 16 MiB through it to the client\'s echo service and back byte-exact', async () => {
    requireParamiko();
    const echo = await echoService();
    const { port, requested, closed } = await tunnelServer((e) => (e.accept = e.direction === 'remote'));
    const client = spawn(PYTHON, [SCRIPT, String(port), PASSWORD, 'remote', String(echo.port)]);
    cleanup.push(() => client.kill());
    let stdout = '';
    let stderr = '';
    client.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    client.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await until(() => /^\d+\n/.test(stdout) || stderr !== '', 'the bound port');
    expect(stderr).toBe('');
    const bound = Number(stdout.trim());
    const data = testData(SIZE, 72);

    const back = await roundTrip(bound, data);

    expect(back.length).toBe(SIZE);
    expect(sha256hex(back)).toBe(sha256hex(data));
    expect(requested.map((e) => [e.direction, e.address, e.port])).toEqual([['remote', '127.0.0.1', 0]]);
    await until(() => closed.length === 1, 'sshTunnelClosed');
    expect(closed[0]).toMatchObject({ direction: 'remote', port: bound, bytesIn: SIZE, bytesOut: SIZE });
    expect(echo.connections()).toBe(1);
  });
});
