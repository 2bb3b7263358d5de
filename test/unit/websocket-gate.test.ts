/**
 * What the Deno and Bun WebSocket endpoints answer before upgrading (ts/websocket-gate.ts), for the files an
 * endpoint serves beside its SSH path; the Node endpoint serves the same files (test/browser/web-demo.test.ts).
 */

import { expect, it } from 'vitest';
import type { StaticFile } from '../../ts/transport.js';
import { upgradeRefusal } from '../../ts/websocket-gate.js';

const page: StaticFile = { type: 'text/html; charset=utf-8', body: new TextEncoder().encode('<p>hi</p>') };
const options = { path: '/ssh', allowedOrigins: ['http://page.example'], files: new Map([['/', page]]) };
const request = (path: string, init: RequestInit = {}) => new Request(`http://127.0.0.1${path}`, init);

it('answers GET of a served file with its body and type, HEAD without the body, from any origin', async () => {
  const got = upgradeRefusal(request('/', { headers: { origin: 'http://elsewhere.example' } }), options)!;
  expect(got.status).toBe(200);
  expect(got.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(got.headers.get('x-content-type-options')).toBe('nosniff');
  expect(await got.text()).toBe('<p>hi</p>');
  const head = upgradeRefusal(request('/', { method: 'HEAD' }), options)!;
  expect(head.status).toBe(200);
  expect(await head.text()).toBe('');
});

it('answers 404 for other methods and paths, and still guards the SSH path', () => {
  expect(upgradeRefusal(request('/', { method: 'POST', body: 'x' }), options)!.status).toBe(404);
  expect(upgradeRefusal(request('/index.html'), options)!.status).toBe(404);
  expect(upgradeRefusal(request('/ssh'), options)!.status).toBe(426);
  expect(upgradeRefusal(request('/ssh', { headers: { origin: 'http://elsewhere.example', upgrade: 'websocket' } }), options)!.status).toBe(403);
  expect(upgradeRefusal(request('/ssh', { headers: { origin: 'http://page.example', upgrade: 'websocket' } }), options)).toBeUndefined();
});
