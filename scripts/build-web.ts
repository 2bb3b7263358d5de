// Bundles the web demo's page (ts/demo/web/page.ts, with xterm.js and its stylesheet) with esbuild into
// target/web/, beside the list of files the demo serves (`npm run demo:web` runs this first).
import { bundlePage } from '../ts/demo/web/bundle.js';
import { WEB_BUILD } from '../ts/demo/web/files.js';

await bundlePage('ts/demo/web/index.html', { page: 'ts/demo/web/page.ts' }, WEB_BUILD);
