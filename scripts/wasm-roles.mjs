// The core's wasm modules, one per role (the wasm crate's features): where scripts/build-wasm.mjs builds each,
// its wasm-bindgen output name, its glue factory and the class it exports; scripts/build.mjs copies the same files.
export const roles = [
  { feature: 'server', dir: 'wasm/pkg', name: 'wasshd_wasm', glue: 'wasshd_glue', cls: 'Core' },
  { feature: 'client', dir: 'wasm/pkg-client', name: 'wasshd_client', glue: 'wasshd_client_glue', cls: 'ClientCore' },
];
