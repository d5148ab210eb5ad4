// nginx from Debian, run from a temp prefix: it serves a fixed answer and proxies one request to a local
// Node server.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { httpGet, requireDep, startNginx, type NginxHandle } from './src/index';

describe('nginx', () => {
  let upstream: Server | undefined;
  let nginx: NginxHandle | undefined;
  const seen: string[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(`${req.url} x-proxied=${req.headers['x-proxied'] ?? ''}`);
      res.end(`upstream saw ${req.url}`);
    });
    await new Promise<void>((resolve) => upstream?.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    await nginx?.stop();
    await new Promise((resolve) => upstream?.close(resolve));
  });

  it('serves one request and proxies another', async (t) => {
    if (!requireDep(t, 'nginx')) return;
    const upstreamPort = (upstream?.address() as AddressInfo).port;
    nginx = await startNginx({
      config: `
        server {
          listen 127.0.0.1:{{port}};
          location = /static { return 200 "from nginx"; }
          location / {
            proxy_set_header x-proxied yes;
            proxy_pass http://127.0.0.1:${upstreamPort};
          }
        }`,
    });
    assert.ok(nginx.port > 0);
    const own = await httpGet(`${nginx.url}/static`);
    assert.deepEqual(own, { status: 200, body: 'from nginx' });
    const proxied = await httpGet(`${nginx.url}/api/thing`);
    assert.deepEqual(proxied, { status: 200, body: 'upstream saw /api/thing' });
    assert.deepEqual(seen, ['/api/thing x-proxied=yes']);
  });
});
