# workerd serving worker.js (bundled into dist/ first, see README.md) on ws://127.0.0.1:8022/ssh.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "ssh", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8022", http = (), service = "ssh")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    (name = "wasshd_wasm_bg.wasm", wasm = embed "dist/wasshd_wasm_bg.wasm"),
    (name = "wasshd_keys_bg.wasm", wasm = embed "dist/wasshd_keys_bg.wasm"),
    (name = "wasshd_legacy_bg.wasm", wasm = embed "dist/wasshd_legacy_bg.wasm"),
  ],
  compatibilityDate = "2026-11-01",
  # SSH's bytes are encrypted: permessage-deflate would only cost CPU.
  compatibilityFlags = ["no_web_socket_compression"],
  bindings = [
    (name = "HOST_KEY", fromEnvironment = "HOST_KEY"),
    (name = "AUTHORIZED_KEYS", fromEnvironment = "AUTHORIZED_KEYS"),
  ],
);
