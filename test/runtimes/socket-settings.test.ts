/**
 * The TCP settings on Deno and Bun (test/fixtures/socket-settings-server.ts): UseIPv6=2 takes 127.0.0.1 and
 * ::1 on one socket; UseIPv6=1 takes ::1 only on Bun, and Deno, which has no IPV6_V6ONLY, says so;
 * KeepAliveTime turns keep-alive on for the accepted socket (Bun with that time; Deno with the system's,
 * 2 hours on Linux). Their TcpNoDelay has no getter to observe; Node's: test/interop/socket-settings.test.ts.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { SSHServerOptions } from '../../ts/settings.js';
import { BUN, DENO, requirePrograms } from '../helpers/demo.js';
import { served, serverTimer } from '../helpers/sockets.js';

const root = new URL('../..', import.meta.url).pathname;
const RUNTIMES = {
  deno: [DENO, 'run', '--sloppy-imports', '--allow-net', '--allow-read', 'test/fixtures/socket-settings-deno.ts'],
  bun: [BUN, 'test/fixtures/socket-settings-bun.ts'],
};

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

/** Starts the fixture; its port, or the reason it could not listen, and the clients it reported. */
function start(command: string[], options: SSHServerOptions): Promise<{ port?: number; refusal?: string; clients: () => string[] }> {
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, [...args, JSON.stringify(options)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const clients = () => [...out.matchAll(/^from (.*)$/gm)].map((m) => m[1]!);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fixture exited with ${code}:\n${out}${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const port = /listening on [^ ]*:(\d+)/.exec(out)?.[1];
      const refusal = /cannot listen: (.*)/.exec(out)?.[1];
      if (port) resolve({ port: Number(port), clients });
      else if (refusal) resolve({ refusal, clients });
    });
  });
}

describe.each(Object.entries(RUNTIMES))('%s', (name, command) => {
  it('UseIPv6=2 takes IPv4 and IPv6 clients on one socket; KeepAliveTime turns keep-alive on', async () => {
    requirePrograms(command[0]!, 'ss');
    const { port, clients } = await start(command, { localHost: '::', useIPv6: 2, keepAliveTime: 20_000 });
    const v4 = await served('127.0.0.1', port!);
    const v6 = await served('::1', port!);
    try {
      expect([v4, v6].every(Boolean)).toBe(true);
      await expect.poll(clients).toEqual(['::ffff:127.0.0.1', '::1']);
      // Bun sets the time before the first probe; Deno only turns keep-alive on, with the system's time.
      expect(serverTimer(v4!)).toMatch(name === 'bun' ? /^keepalive,(1[5-9]|20)sec,0$/ : /^keepalive,1[12]\dmin,0$/);
    } finally {
      v4?.destroy();
      v6?.destroy();
    }
  });

  it('UseIPv6=1 takes IPv6 clients only where the runtime can listen so', async () => {
    requirePrograms(command[0]!);
    const { port, refusal } = await start(command, { localHost: '::', useIPv6: 1 });
    if (name === 'deno') {
      expect(refusal).toBe('Deno cannot listen on IPv6 only (UseIPv6=1): it has no IPV6_V6ONLY option');
      return;
    }
    expect(await served('127.0.0.1', port!)).toBeUndefined();
    const v6 = await served('::1', port!);
    expect(v6).toBeDefined();
    v6!.destroy();
  });
});
