"""A small SSH server in Python: the wasshd core as a WIT component (wasm/wit/wasshd.wit) on wasmtime, with
asyncio owning the sockets and the timers. It serves TCP, authenticates users by password and runs `echo ARGS...`
and `cat` for exec:

    npm run demo:wasmtime -- --port N --user NAME:PASSWORD [--user ...] [--listen ADDR] [--host-key FILE]
                             [--config NAME=VALUE]... [--verbose]

It prints `listening on ADDR:PORT` once it accepts connections and runs until SIGINT or SIGTERM. The core is
sans-IO: after every call into it this host writes the connection's output, handles the events the core
queued (answering decisions at once), re-arms the connection's one timer and feeds input the core left
pending at its output budget. A trap ends the process: nothing in the instance can be trusted any more.
"""

import argparse
import asyncio
import os
import signal
import struct
import sys

from wasmtime import Engine, Store, Trap, WasmtimeError
from wasmtime.component import Component, Linker, Record

COMPONENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "wasm", "component", "pkg", "wasshd.component.wasm")
INTERFACE = "wasshd:ssh/server@0.1.0"
# The bit of `status` that says the last call stopped at the output budget with input left.
STATUS_INPUT_PENDING = 8
# What one `input` call gets at most, as the TypeScript host feeds it.
INPUT_PIECE = 64 * 1024
# Output buffered in a socket before the client counts as not reading.
HIGH_WATER_MARK = 1024 * 1024


class CoreError(Exception):
    """A command the core refused: the reference's error code and its message."""

    def __init__(self, code, message):
        super().__init__(f"[{code}] {message}")
        self.code = code


class Core:
    """The component's `core` resource: `core.call("input", conn, data, now)` calls `[method]core.input`."""

    def __init__(self, path):
        engine = Engine()
        self.store = Store(engine)
        self.instance = Linker(engine).instantiate(self.store, Component.from_file(engine, path))
        self.interface = self.instance.get_export_index(self.store, INTERFACE)
        self.funcs = {}
        self.handle = self._checked(self._func("[static]core.create")(self.store, os.urandom(64)))

    def _func(self, name):
        if name not in self.funcs:
            index = self.instance.get_export_index(self.store, name, self.interface)
            if index is None:
                raise RuntimeError(f"the component has no {name}: is it built from this checkout's wasm/wit?")
            self.funcs[name] = self.instance.get_func(self.store, index)
        return self.funcs[name]

    @staticmethod
    def _checked(result):
        # A `result<T, error>` comes back as T, or as the error record.
        if isinstance(result, Record):
            raise CoreError(result.code, result.message)
        return result

    def call(self, method, *args):
        return self._checked(self._func(f"[method]core.{method}")(self.store, self.handle, *args))


class Reader:
    """The event records (`drain-events` in wasm/wit/wasshd.wit): SSH wire types, big-endian."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def more(self):
        return self.pos < len(self.data)

    def u8(self):
        self.pos += 1
        return self.data[self.pos - 1]

    def u32(self):
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return value

    def bytes(self):
        n = self.u32()
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def text(self):
        return self.bytes().decode("utf-8", "replace")


# Fields of the channel requests the core decodes, after the name (wasm/wit/wasshd.wit, tag 8).
REQUEST_FIELDS = {
    "pty-req": "suuuus",
    "env": "ss",
    "shell": "",
    "exec": "s",
    "subsystem": "s",
    "window-change": "uuuu",
    "signal": "s",
}


def decode_events(data):
    """Yields (tag name, conn, fields) per record; fields as the host below needs them."""
    r = Reader(data)
    while r.more():
        tag, conn = r.u8(), r.u32()
        if tag == 1:
            yield "log", conn, (r.u8(), r.text())
        elif tag == 2:
            yield "client-version", conn, (r.text(),)
        elif tag == 3:
            fields = [r.text() for _ in range(6)]
            yield "keys-exchanged", conn, (*fields, r.u8(), r.u8())
        elif tag == 4:
            yield "service-request", conn, (r.text(),)
        elif tag == 5:
            user, service, method, _passed = r.text(), r.text(), r.text(), r.text()
            password = None
            if method == "password":
                password = r.text()
            elif method == "publickey":
                r.text(), r.bytes(), r.u8()
            elif method == "keyboard-interactive":
                r.text()
                count = r.u32()
                for _ in range(0 if count == 0xFFFFFFFF else count):
                    r.bytes()
            yield "auth-request", conn, (user, method, password)
        elif tag == 6:
            yield "authenticated", conn, (r.text(), r.text())
        elif tag == 7:
            yield "channel-open-request", conn, (r.u32(), r.text(), r.bytes())
        elif tag == 8:
            channel, want_reply, name = r.u32(), r.u8(), r.text()
            fields = [r.bytes() if kind == "s" else r.u32() for kind in REQUEST_FIELDS.get(name, "s")]
            yield "channel-request", conn, (channel, name, fields)
        elif tag == 9:
            yield "channel-data", conn, (r.u32(), r.u32(), r.bytes())
        elif tag in (10, 11, 12):
            yield {10: "channel-eof", 11: "channel-closed", 12: "channel-ready-to-send"}[tag], conn, (r.u32(),)
        elif tag == 13:
            yield "disconnected", conn, (r.u32(), r.text(), r.u8())
        else:
            raise RuntimeError(f"unknown event record {tag}: the component and this host are out of step")


class Channel:
    """A session channel running one command; what it sends waits in `queue` for the peer's window."""

    def __init__(self, channel_id):
        self.id = channel_id
        self.command = None
        # (stream, bytes, called once the core took all of them)
        self.queue = []
        self.finish_when_sent = None
        self.closed = False


class Connection(asyncio.Protocol):
    def __init__(self, server):
        self.server = server
        self.core = server.core
        self.channels = {}
        self.writable = True
        self.ended = False
        self.timer = None
        self.deadline = None

    # ---- the socket ------------------------------------------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER_MARK)
        self.core.call("add-entropy", os.urandom(32))
        self.id = self.core.call("open", self.server.now())
        self.server.connections[self.id] = self
        self.peer = "%s:%s" % transport.get_extra_info("peername")[:2]
        self.server.log(f"[{self.id}] connected from {self.peer}")
        self.after_call()

    def data_received(self, data):
        for start in range(0, len(data), INPUT_PIECE):
            if self.ended:
                return
            self.command("input", data[start : start + INPUT_PIECE], self.server.now())

    def eof_received(self):
        # A peer's half-close ends the SSH connection: there is nothing more it can say.
        return False

    def pause_writing(self):
        # The client is not reading: stop reading it too, so that what it sends cannot pile up replies.
        self.writable = False
        self.transport.pause_reading()

    def resume_writing(self):
        self.writable = True
        if not self.ended:
            self.transport.resume_reading()
            for channel in list(self.channels.values()):
                self.pump(channel)
            self.after_call()

    def connection_lost(self, exc):
        if self.timer:
            self.timer.cancel()
        if not self.ended:
            self.ended = True
            self.core.call("connection-lost", self.id)
            self.handle_events()
        self.core.call("close", self.id)
        self.server.connections.pop(self.id, None)

    # ---- after every call into the core --------------------------------------------------------------------

    def command(self, method, *args):
        """A call that concerns this connection, then everything it caused."""
        try:
            result = self.core.call(method, self.id, *args)
        except CoreError as e:
            self.server.log(f"[{self.id}] {method}: {e}")
            return None
        self.after_call()
        return result

    def after_call(self):
        while True:
            self.handle_events()
            if self.ended or not self.writable or not self.core.call("status", self.id) & STATUS_INPUT_PENDING:
                break
            # The core stopped at its output budget with input left: the output is written, go on.
            self.core.call("input", self.id, b"", self.server.now())
        self.rearm()

    def flush(self):
        out = self.core.call("take-output", self.id)
        if out and not self.transport.is_closing():
            self.transport.write(out)

    def handle_events(self):
        """Writes the output, then routes the events, until a round leaves none (replies cause more)."""
        touched = {self}
        while True:
            for conn in touched:
                conn.flush()
            events = self.core.call("drain-events")
            if not events:
                return
            for name, conn_id, fields in decode_events(events):
                owner = self.server.connections.get(conn_id)
                if not owner:
                    continue
                touched.add(owner)
                try:
                    owner.on_event(name, fields)
                except CoreError as e:
                    self.server.log(f"[{conn_id}] {name}: {e}")

    def rearm(self):
        deadline = None if self.ended else self.core.call("next-deadline", self.id)
        if deadline == self.deadline:
            return
        if self.timer:
            self.timer.cancel()
        self.deadline = deadline
        self.timer = None if deadline is None else asyncio.get_running_loop().call_at(deadline / 1000, self.timeout)

    def timeout(self):
        self.timer = self.deadline = None
        self.command("handle-timeout", self.server.now())

    # ---- events --------------------------------------------------------------------------------------------

    def on_event(self, name, fields):
        if name == "log":
            self.server.log(f"[{self.id}] {fields[1]}", level=fields[0])
        elif name == "keys-exchanged":
            # Fresh platform entropy for the next exchange, as the core asks of its host.
            self.core.call("add-entropy", os.urandom(32))
        elif name == "service-request":
            self.core.call("reply-service", self.id, True)
        elif name == "auth-request":
            user, method, password = fields
            if method == "password" and self.server.users.get(user) == password:
                self.core.call("reply-auth-accept", self.id)
            else:
                self.core.call("reply-auth-reject", self.id, False, "")
        elif name == "authenticated":
            self.server.log(f"[{self.id}] authenticated as {fields[0]} by {fields[1]}")
        elif name == "channel-open-request":
            channel_id, kind, _data = fields
            accept = kind == "session"
            self.core.call("reply-channel-open", self.id, channel_id, accept, 1, "" if accept else "only session channels")
            if accept:
                self.channels[channel_id] = Channel(channel_id)
        elif name == "channel-request":
            self.on_channel_request(*fields)
        elif name == "channel-data":
            channel_id, _stream, data = fields
            channel = self.channels.get(channel_id)
            if channel and channel.command == "cat":
                # The window reopens once the core took the echo: a client that does not read stops cat.
                self.send(channel, data, on_taken=lambda: self.consume(channel_id, len(data)))
            else:
                self.consume(channel_id, len(data))
        elif name == "channel-eof":
            channel = self.channels.get(fields[0])
            if channel and channel.command == "cat":
                self.finish(channel, 0)
        elif name == "channel-ready-to-send":
            channel = self.channels.get(fields[0])
            if channel:
                self.pump(channel)
        elif name == "channel-closed":
            channel = self.channels.pop(fields[0], None)
            if channel:
                channel.closed = True
        elif name == "disconnected":
            reason, description, _by_peer = fields
            self.ended = True
            self.server.log(f"[{self.id}] disconnected: {reason} {description}")
            self.flush()
            self.transport.close()

    def on_channel_request(self, channel_id, name, fields):
        channel = self.channels.get(channel_id)
        # Requests other than exec are refused, but for env, which changes nothing here.
        accept = channel is not None and (name == "env" or (name == "exec" and channel.command is None))
        self.core.call("reply-channel-request", self.id, channel_id, accept)
        if not accept or name != "exec":
            return
        words = fields[0].decode("utf-8", "replace").split()
        program, args = (words[0], words[1:]) if words else ("", [])
        channel.command = program
        if program == "echo":
            self.send(channel, (" ".join(args) + "\n").encode())
            self.finish(channel, 0)
        elif program != "cat":
            self.send(channel, f"unknown command: {program}\n".encode(), stream=1)
            self.finish(channel, 127)

    # ---- channel output ---------------------------------------------------------------------------------

    def consume(self, channel_id, n):
        if not self.ended:
            self.core.call("consume-channel-data", self.id, channel_id, n)

    def send(self, channel, data, stream=0, on_taken=None):
        channel.queue.append([stream, data, on_taken])
        self.pump(channel)

    def finish(self, channel, status):
        """Exit status, EOF and close once everything queued is sent."""
        channel.finish_when_sent = status
        self.pump(channel)

    def pump(self, channel):
        """Hands queued data to the core as far as the window and the socket allow."""
        while channel.queue and self.writable and not self.ended and not channel.closed:
            item = channel.queue[0]
            try:
                taken = self.core.call("send-data", self.id, channel.id, item[0], item[1], self.server.now())
            except CoreError as e:
                self.server.log(f"[{self.id}] send-data: {e}")
                return
            self.flush()
            item[1] = item[1][taken:]
            if item[1]:
                if taken == 0:
                    return  # the window is full or a key exchange runs: channel-ready-to-send resumes
                continue
            channel.queue.pop(0)
            if item[2]:
                item[2]()
        if not channel.queue and channel.finish_when_sent is not None and not channel.closed and not self.ended:
            status, channel.finish_when_sent = channel.finish_when_sent, None
            for method, *args in (("send-exit-status", status), ("send-eof",), ("close-channel",)):
                self.core.call(method, self.id, channel.id, *args)


class Server:
    def __init__(self, args):
        self.core = Core(COMPONENT)
        self.users = dict(args.user)
        self.verbose = args.verbose
        self.connections = {}
        self.core.call("set-config", "DefaultAuthMethods", "password")
        for name, value in args.config:
            if not self.core.call("set-config", name, value):
                raise SystemExit(f"wasshd wasmtime demo: unknown setting {name}")
        if args.host_key:
            with open(args.host_key, encoding="utf-8") as f:
                self.core.call("add-host-key", f.read(), "")
        else:
            self.core.call("generate-host-key", "wasshd wasmtime demo")

    @staticmethod
    def now():
        # The core's clock: milliseconds on the loop's monotonic clock, which its timers use too.
        return asyncio.get_running_loop().time() * 1000

    def log(self, line, level=1):
        if self.verbose and level <= 1:
            print(line, file=sys.stderr, flush=True)


def name_value(separator, what):
    def parse(text):
        name, sep, value = text.partition(separator)
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"wants {what}, got {text}")
        return name, value

    return parse


async def serve(args):
    server = Server(args)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: Connection(server), args.listen, args.port)
    host, port = listener.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    print(f"connect with: ssh -p {port} {args.user[0][0]}@{host}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    trapped = []

    def on_error(loop, context):
        # Socket and timer callbacks call the core: a trap there stops the server rather than go on with it.
        error = context.get("exception")
        if isinstance(error, (Trap, WasmtimeError)):
            trapped.append(error)
            stop.set()
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(on_error)
    await stop.wait()
    listener.close()
    if trapped:
        raise trapped[0]


def main():
    parser = argparse.ArgumentParser(prog="npm run demo:wasmtime --", description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2222)
    parser.add_argument("--user", type=name_value(":", "NAME:PASSWORD"), action="append", required=True)
    parser.add_argument("--host-key", help="an OpenSSH ed25519 private key file; default: a new key per run")
    parser.add_argument("--config", type=name_value("=", "NAME=VALUE"), action="append", default=[])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except (Trap, WasmtimeError) as e:
        print(f"wasshd wasmtime demo: the core trapped, stopping: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
