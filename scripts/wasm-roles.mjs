// The core's wasm modules, one per role (the wasm crate's features): where scripts/build-wasm.mjs builds each,
// its wasm-bindgen output name, its glue factory and the class it exports; scripts/build.mjs copies the same files.
// `keys` reads and writes key files (loaded by the first call that does) and imports no host crypto; `legacy` has
// the legacy algorithms' primitives (loaded by the first setting that names one: ts/core/legacy.ts), likewise.
export const roles = [
  { feature: 'server', dir: 'wasm/pkg', name: 'wasshd_wasm', glue: 'wasshd_glue', cls: 'Core' },
  { feature: 'client', dir: 'wasm/pkg-client', name: 'wasshd_client', glue: 'wasshd_client_glue', cls: 'ClientCore' },
  { feature: 'keys', dir: 'wasm/pkg-keys', name: 'wasshd_keys', glue: 'wasshd_keys_glue', cls: 'KeyFiles', hostCrypto: false },
  { feature: 'legacy', dir: 'wasm/pkg-legacy', name: 'wasshd_legacy', glue: 'wasshd_legacy_glue', cls: 'LegacyCrypto', hostCrypto: false },
];
