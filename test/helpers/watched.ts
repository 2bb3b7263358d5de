/** Starts test/fixtures/watched-server.ts on a runtime and talks to it through its stdin. */

import { spawn, type ChildProcess } from 'node:child_process';
import type { WatchedStats } from '../fixtures/watched-server.js';
import { BUN, DENO } from './demo.js';

const root = new URL('../..', import.meta.url).pathname;

/** The commands that start the watched server on each runtime. */
export const WATCHED = {
  deno: [DENO, 'run', '--sloppy-imports', '--allow-net', '--allow-read', 'test/fixtures/watched-deno.ts'],
  bun: [BUN, 'test/fixtures/watched-bun.ts'],
};

export interface Watched {
  process: ChildProcess;
  tcpPort: number;
  wsPort: number;
  stats(): Promise<WatchedStats>;
  /** Resolves once the server has stopped accepting connections. */
  stopListening(): Promise<void>;
  stop(): Promise<void>;
}

export function startWatched(command: string[]): Promise<Watched> {
  const [program, ...args] = command as [string, ...string[]];
  const child = spawn(program, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } });
  let out = '';
  let err = '';
  let started = false;
  /** Callers waiting for the server's next JSON line, in order. */
  const answers: ((line: string) => void)[] = [];
  const ask = (command: string) =>
    new Promise<unknown>((answer) => {
      answers.push((line) => answer(JSON.parse(line)));
      child.stdin!.write(`${command}\n`);
    });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`watched server exited with ${code}:\n${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!started) {
        const tcp = /listening on [^ ]*:(\d+)/.exec(out);
        const ws = /websocket on [^ ]*:(\d+)\n/.exec(out);
        if (!tcp || !ws) return;
        started = true;
        out = out.slice(ws.index + ws[0].length);
        child.removeAllListeners('exit');
        resolve({
          process: child,
          tcpPort: Number(tcp[1]),
          wsPort: Number(ws[1]),
          stats: () => ask('stats') as Promise<WatchedStats>,
          stopListening: async () => void (await ask('stop-listening')),
          stop: () =>
            new Promise<void>((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.stdin!.end();
            }),
        });
      }
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('{')) answers.shift()?.(line);
      }
    });
  });
}
