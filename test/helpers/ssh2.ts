/** The `ssh2` npm client, promisified for tests: connect to a local port, run a command. */

import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';

const { Client } = ssh2;
export type Ssh2Client = InstanceType<typeof Client>;

/** `before` sees the client before it connects (to listen for what comes during the login, such as banners). */
export function connect(port: number, config: Partial<ConnectConfig>, before?: (client: Ssh2Client) => void): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    before?.(c);
    c.on('ready', () => resolve(c));
    c.on('error', reject);
    c.connect({ host: '127.0.0.1', port, readyTimeout: 20_000, ...config });
  });
}

export interface ExecResult {
  stdout: Buffer;
  stderr: string;
  code: number | undefined;
}

/** Runs `command`, writes `input` to it and ends its stdin, and collects what comes back. */
export function exec(c: Ssh2Client, command: string, input?: Buffer): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    c.exec(command, (err: Error | undefined, stream: ClientChannel) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      let stderr = '';
      let code: number | undefined;
      stream.on('data', (d: Buffer) => out.push(d));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('exit', (c: number) => (code = c));
      stream.on('close', () => resolve({ stdout: Buffer.concat(out), stderr, code }));
      stream.end(input);
    });
  });
}
