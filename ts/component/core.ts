/**
 * The core as a WIT component (`wasm/wit/wasshd.wit`, bindings by `jco transpile`, built by
 * scripts/build-component.mjs) behind the wasm-bindgen `Core`'s methods, so that `SSHServer` runs on either
 * unchanged. Every call of `instantiateComponentCore` is a fresh instance of the component (the first core
 * of a server, and a new one after a trap); runtimes differ only in how they obtain the compiled core
 * modules, as with `instantiateCore`.
 */

import { instantiate } from '../../wasm/component/pkg/wasshd.js';
import type { Core as ComponentCore } from '../../wasm/component/pkg/interfaces/wasshd-ssh-server.js';
import type { Core } from '../../wasm/pkg/wasshd_wasm.js';
import { setCoreMemory } from '../core/instance.js';

/** The component's core modules by the name jco gave them (`wasshd.core.wasm`, ...), compiled. */
export type CoreModules = (name: string) => WebAssembly.Module;

/** A `result` error of the WIT world: the reference's code and a message. */
interface ErrorRecord {
  code: number;
  message: string;
}

function isErrorRecord(value: unknown): value is ErrorRecord {
  return typeof value === 'object' && value !== null && typeof (value as ErrorRecord).code === 'number' && typeof (value as ErrorRecord).message === 'string';
}

/**
 * jco throws a `result`'s error wrapped, with the record as `payload`; the host reads codes the way the
 * wasm-bindgen module writes them (`[code] message`, `fromCoreError`). Anything else (a trap) goes on as it is.
 */
function fallible<T>(call: () => T): T {
  try {
    return call();
  } catch (e) {
    const payload = (e as { payload?: unknown } | null)?.payload;
    if (isErrorRecord(payload)) throw new Error(`[${payload.code}] ${payload.message}`);
    throw e;
  }
}

class ComponentCoreAdapter implements Core {
  constructor(private readonly core: ComponentCore) {}

  free(): void {
    // jco drops a resource through `Symbol.dispose`.
    (this.core as unknown as Disposable)[Symbol.dispose]();
  }
  add_entropy(entropy: Uint8Array): void {
    this.core.addEntropy(entropy);
  }
  set_config(name: string, value: string): boolean {
    return fallible(() => this.core.setConfig(name, value));
  }
  get_config(name: string): string | undefined {
    return this.core.getConfig(name);
  }
  add_host_key(key: Uint8Array): string {
    return fallible(() => this.core.installHostKey(key));
  }
  add_next_host_key(key: Uint8Array): string {
    return fallible(() => this.core.installNextHostKey(key));
  }
  host_key_fingerprints(hash: string): string[] {
    return fallible(() => this.core.hostKeyFingerprints(hash));
  }
  host_public_keys(): string[] {
    return this.core.hostPublicKeys();
  }
  call_output_budget(): number {
    return this.core.callOutputBudget();
  }
  continue_ids_after(last: number): void {
    this.core.continueIdsAfter(last);
  }
  open(now: number): number {
    return fallible(() => this.core.open(now));
  }
  input(conn: number, bytes: Uint8Array, now: number): void {
    fallible(() => this.core.input(conn, bytes, now));
  }
  status(conn: number): number {
    return this.core.status(conn);
  }
  take_output(conn: number): Uint8Array {
    return this.core.takeOutput(conn);
  }
  drain_events(): Uint8Array {
    return this.core.drainEvents();
  }
  next_deadline(conn: number): number {
    return this.core.nextDeadline(conn) ?? -1;
  }
  handle_timeout(conn: number, now: number): void {
    fallible(() => this.core.handleTimeout(conn, now));
  }
  reply_service(conn: number, accept: boolean): void {
    fallible(() => this.core.replyService(conn, accept));
  }
  reply_auth_accept(conn: number): void {
    fallible(() => this.core.replyAuthAccept(conn));
  }
  reply_auth_reject(conn: number, partialSuccess: boolean, methods: string): void {
    fallible(() => this.core.replyAuthReject(conn, partialSuccess, methods));
  }
  reply_auth_prompt(conn: number, name: string, instruction: string, prompts: string[], echo: Uint8Array, retry: boolean): void {
    const records = prompts.map((text, i) => ({ text, echo: (echo[i] ?? 0) !== 0 }));
    fallible(() => this.core.replyAuthPrompt(conn, name, instruction, records, retry));
  }
  reply_channel_open(conn: number, channel: number, accept: boolean, reason: number, description: string): void {
    fallible(() => this.core.replyChannelOpen(conn, channel, accept, reason, description));
  }
  reply_channel_request(conn: number, channel: number, accept: boolean): void {
    fallible(() => this.core.replyChannelRequest(conn, channel, accept));
  }
  reply_global_request(conn: number, accept: boolean, data: Uint8Array): void {
    fallible(() => this.core.replyGlobalRequest(conn, accept, data));
  }
  send_packet(conn: number, channel: number, msgType: number, body: Uint8Array): void {
    fallible(() => this.core.sendPacket(conn, channel < 0 ? undefined : channel, msgType, body));
  }
  send_banner(conn: number, text: string): void {
    fallible(() => this.core.sendBanner(conn, text));
  }
  open_channel(conn: number, kind: string, data: Uint8Array): number {
    return fallible(() => this.core.openChannel(conn, kind, data));
  }
  send_data(conn: number, channel: number, stream: number, data: Uint8Array, now: number): number {
    return fallible(() => this.core.sendData(conn, channel, stream, data, now));
  }
  consume_channel_data(conn: number, channel: number, n: number): void {
    fallible(() => this.core.consumeChannelData(conn, channel, n));
  }
  send_eof(conn: number, channel: number): void {
    fallible(() => this.core.sendEof(conn, channel));
  }
  send_exit_status(conn: number, channel: number, status: number): void {
    fallible(() => this.core.sendExitStatus(conn, channel, status));
  }
  send_exit_signal(conn: number, channel: number, signal: string, coreDumped: boolean, message: string): void {
    fallible(() => this.core.sendExitSignal(conn, channel, signal, coreDumped, message));
  }
  close_channel(conn: number, channel: number): void {
    fallible(() => this.core.closeChannel(conn, channel));
  }
  rekey(conn: number): void {
    fallible(() => this.core.rekey(conn));
  }
  disconnect(conn: number, reason: number, description: string): void {
    fallible(() => this.core.disconnect(conn, reason, description));
  }
  connection_lost(conn: number): void {
    fallible(() => this.core.connectionLost(conn));
  }
  close(conn: number): void {
    this.core.close(conn);
  }
  connection_count(): number {
    return this.core.connectionCount();
  }
}

/**
 * A fresh instance of the component, sharing nothing with earlier ones; the function it returns makes cores
 * in that instance (one per server, as a host has; replaying many sessions on one instance, as a test does).
 */
export function instantiateComponent(modules: CoreModules): (seed: Uint8Array) => Core {
  let memory: WebAssembly.Memory | undefined;
  const { server } = instantiate(modules, {}, (module, imports) => {
    const instance = new WebAssembly.Instance(module, imports);
    // Of the component's core modules, only the one with the Rust code has a linear memory.
    if (!memory && instance.exports.memory instanceof WebAssembly.Memory) memory = instance.exports.memory;
    return instance;
  });
  return (seed) => {
    const core = new ComponentCoreAdapter(fallible(() => server.Core.create(seed)));
    if (memory) setCoreMemory(core, memory);
    return core;
  };
}

/** A core in a fresh instance of the component. */
export function instantiateComponentCore(modules: CoreModules, seed: Uint8Array): Core {
  return instantiateComponent(modules)(seed);
}
