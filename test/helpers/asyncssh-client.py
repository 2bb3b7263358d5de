"""AsyncSSH (PyPI, pinned in scripts/setup.sh) as a test client: logs in with a password offering only the
key exchange methods KEX (comma-separated), and optionally only the ciphers CIPHERS, runs COMMAND, and prints
its output. With the command `cat`, it sends 1 MiB of pseudo-random bytes and prints `same N` or `differ N`,
N the bytes that came back.

Usage: asyncssh-client.py PORT USER PASSWORD KEX COMMAND [CIPHERS]
"""

import asyncio
import sys

import asyncssh


async def main(port: str, user: str, password: str, kex: str, command: str, ciphers: str = '') -> None:
    options = {'encryption_algs': ciphers} if ciphers else {}
    async with asyncssh.connect(
        '127.0.0.1', int(port), username=user, password=password, known_hosts=None, client_keys=None, kex_algs=kex, **options
    ) as conn:
        if command == 'cat':
            data = bytes((i * 31 + 7) & 0xFF for i in range(1 << 20))
            result = await conn.run('cat', input=data, encoding=None, check=True)
            sys.stdout.write(f"{'same' if result.stdout == data else 'differ'} {len(result.stdout)}\n")
        else:
            result = await conn.run(command, check=True)
            sys.stdout.write(str(result.stdout))


asyncio.run(main(*sys.argv[1:]))
