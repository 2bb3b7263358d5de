"""SFTP with paramiko's client (pinned in scripts/setup.sh), driven by test/interop/sftp-paramiko.test.ts.

  paramiko_sftp.py PORT PASSWORD LOCAL_FILE

Logs in as `u` on 127.0.0.1:PORT by password (the host key is not checked: a server made for the test), then
runs the scenario below and prints one JSON object of what each step saw: LOCAL_FILE put and got back
(`sha256` of what came back), a transfer resumed both ways, the everyday operations, and the ways out of the
root, each answered with the error paramiko raised.
"""

import hashlib
import json
import stat
import sys

import paramiko

port, password, local_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
transport = paramiko.Transport(("127.0.0.1", port))
transport.connect(username="u", password=password)
sftp = paramiko.SFTPClient.from_transport(transport)
out = {}


def error_of(step):
    """The error a step raised, as `ErrorClass: message`, or None if it succeeded."""
    try:
        step()
    except (IOError, OSError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# Put and get, pipelined and prefetched as paramiko does.
sftp.put(local_file, "big")
sftp.get("big", local_file + ".back")
out["back"] = sha256_of(local_file + ".back")
out["size"] = sftp.stat("big").st_size

# Resume both ways: append the rest of an upload cut short; read a download on from where it stopped.
with open(local_file, "rb") as f:
    data = f.read()
half = len(data) // 2
with sftp.open("resumed", "wb") as f:
    f.set_pipelined(True)
    f.write(data[:half])
with sftp.open("resumed", "ab") as f:
    f.set_pipelined(True)
    f.write(data[half:])
with sftp.open("resumed", "rb") as f:
    f.seek(half)
    f.prefetch()
    tail = f.read()
out["resumed"] = hashlib.sha256(data[:half] + tail).hexdigest()

# The everyday operations.
sftp.mkdir("dir")
with sftp.open("dir/a", "w") as f:
    f.write(b"hello\n")
sftp.rename("dir/a", "dir/b")
sftp.chmod("dir/b", 0o600)
sftp.symlink("dir/b", "link")
out["readlink"] = sftp.readlink("link")
out["linked"] = sftp.open("link").read().decode()
out["mode"] = oct(stat.S_IMODE(sftp.stat("dir/b").st_mode))
out["islink"] = stat.S_ISLNK(sftp.lstat("link").st_mode)
out["listing"] = sorted(a.filename for a in sftp.listdir_attr("."))
out["rename_existing"] = error_of(lambda: sftp.rename("big", "resumed"))
sftp.posix_rename("resumed", "big")
out["normalize"] = sftp.normalize("../../dir/..")
sftp.remove("link")
sftp.remove("dir/b")
sftp.rmdir("dir")
out["after"] = sorted(sftp.listdir("."))

# Ways out of the root.
out["dotdot"] = error_of(lambda: sftp.open("../../../../etc/passwd").read())
out["absolute"] = error_of(lambda: sftp.open("/etc/passwd").read())
sftp.symlink("/etc/passwd", "out")
out["symlink_abs"] = error_of(lambda: sftp.open("out").read())
sftp.symlink("../../../../../etc/passwd", "out2")
out["symlink_rel"] = error_of(lambda: sftp.open("out2").read())
out["escape_listing"] = sorted(sftp.listdir("/../.."))

print(json.dumps(out))
sftp.close()
transport.close()
