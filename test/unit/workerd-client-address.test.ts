/** The address a Worker's SSH connection is counted under, from what workerd and Cloudflare's edge provide. */

import { expect, it } from 'vitest';
import { defaultClientAddress } from '../../ts/workerd/websocket.js';

const request = (headers: Record<string, string> = {}, cf?: object) => Object.assign(new Request('http://worker.example/ssh', { headers }), cf ? { cf } : {});

it("takes the address and port workerd saw, over a header the client could have set", () => {
  const forged = { 'CF-Connecting-IP': '198.51.100.9' };
  expect(defaultClientAddress(request(forged, { clientIp: '127.0.0.1:54560' }))).toEqual({ address: '127.0.0.1', port: 54560 });
  expect(defaultClientAddress(request(forged, { clientIp: '[::1]:40000' }))).toEqual({ address: '::1', port: 40000 });
});

it("takes Cloudflare's CF-Connecting-IP where workerd reports no address, else none", () => {
  expect(defaultClientAddress(request({ 'CF-Connecting-IP': '203.0.113.7' }))).toEqual({ address: '203.0.113.7', port: 0 });
  expect(defaultClientAddress(request())).toEqual({ address: '', port: 0 });
});
