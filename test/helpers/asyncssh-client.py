"""AsyncSSH (PyPI, pinned in scripts/setup.sh) as a test client: logs in with a password offering only the
key exchange methods KEX (comma-separated), runs COMMAND, and prints its output.

Usage: asyncssh-client.py PORT USER PASSWORD KEX COMMAND
"""

import asyncio
import sys

import asyncssh


async def main(port: str, user: str, password: str, kex: str, command: str) -> None:
    async with asyncssh.connect(
        '127.0.0.1', int(port), username=user, password=password, known_hosts=None, client_keys=None, kex_algs=kex
    ) as conn:
        result = await conn.run(command, check=True)
        sys.stdout.write(str(result.stdout))


asyncio.run(main(*sys.argv[1:]))
