"""Forwarding with paramiko (pinned in scripts/setup.sh), driven by test/interop/paramiko.test.ts.

  paramiko_forward.py PORT PASSWORD local TARGET_PORT
      opens a direct-tcpip channel to 127.0.0.1:TARGET_PORT, sends it standard input, then EOF, and writes
      what comes back to standard output (as `ssh -W` does)
  paramiko_forward.py PORT PASSWORD remote TARGET_PORT
      asks the server to listen on 127.0.0.1 port 0 (tcpip-forward), prints the bound port on a line, and
      connects each forwarded-tcpip channel to 127.0.0.1:TARGET_PORT until killed

Logs in as `u` on 127.0.0.1:PORT by password; the host key is not checked (a server made for the test).
"""

import socket
import sys
import threading

import paramiko

CHUNK = 64 * 1024


def pump(read, write, done):
    """Copies until read returns nothing, then calls done (which passes the end on)."""
    while True:
        data = read(CHUNK)
        if not data:
            break
        write(data)
    done()


def local(transport, target_port):
    channel = transport.open_channel("direct-tcpip", ("127.0.0.1", target_port), ("127.0.0.1", 0))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sending = threading.Thread(target=pump, args=(stdin.read1, channel.sendall, channel.shutdown_write))
    sending.start()
    pump(channel.recv, stdout.write, stdout.flush)
    sending.join()
    channel.close()


def remote(transport, target_port):
    def forwarded(channel, _origin, _server):
        target = socket.create_connection(("127.0.0.1", target_port))
        threading.Thread(target=pump, args=(channel.recv, target.sendall, lambda: target.shutdown(socket.SHUT_WR)), daemon=True).start()
        threading.Thread(target=pump, args=(target.recv, channel.sendall, channel.shutdown_write), daemon=True).start()

    port = transport.request_port_forward("127.0.0.1", 0, handler=forwarded)
    print(port, flush=True)
    threading.Event().wait()


def main():
    port, password, mode, target_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", int(port), username="u", password=password, look_for_keys=False, allow_agent=False)
    transport = client.get_transport()
    if mode == "local":
        local(transport, target_port)
    else:
        remote(transport, target_port)
    client.close()


main()
