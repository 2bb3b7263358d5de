/** workerd (and bundlers targeting it) import a `.wasm` file as its compiled module. */
declare module '*.wasm' {
  const compiled: WebAssembly.Module;
  export default compiled;
}
