/** What the web demo serves beside its WebSocket endpoint: the page scripts/build-web.ts bundled, read at start. */

import { readFileSync } from 'node:fs';
import type { StaticFile } from '../../transport.js';
import { stop } from '../setup.js';
import { readManifest } from './bundle.js';

/** Where scripts/build-web.ts bundles the page. */
export const WEB_BUILD = new URL('../../../target/web', import.meta.url).pathname;

/** The page's files by URL path; stops the demo if the page was not built. */
export function webFiles(): ReadonlyMap<string, StaticFile> {
  const manifest = readManifest(WEB_BUILD);
  if (!manifest) return stop(`the web page is not built in ${WEB_BUILD}: npm run demo:web builds it first (tsx scripts/build-web.ts)`);
  return new Map([...manifest].map(([path, { file, type }]) => [path, { type, body: readFileSync(file) }]));
}
