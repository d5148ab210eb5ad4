/**
 * Stream idle timeout and upstream reset flags, side by side with a real Envoy 1.36 fed the same resources
 * by one AdsServer: HCM stream_idle_timeout answers 504 "stream timeout" with flag SI when an upstream
 * never answers a complete request (no route timeout); an HTTP/1.1 response the proxy cannot parse is 502
 * UPE; an HTTP/2 upstream refusing the stream is 503 UR; an HTTP/2 upstream resetting a response that had
 * started resets the downstream (UR). Status codes and local reply bodies (which name the reset reason)
 * must match Envoy's; the sidecar's access log must carry the flag Envoy logged for the same case (read
 * from Envoy's access log with a static bootstrap when this test was written: SI, UPE, UR, UR).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, clusterRoute, durationFromMs, edsCluster, clusterLoadAssignment, httpConnectionManager, httpListener, routeConfiguration, virtualHost } from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import type { Proxy } from '../src/proxy';
import { NODE_ID, request, snapshot, startProxy, waitUntil, type Resources, waitFor200 } from './helpers';

const ENVOY_NODE = 'sidecar~127.0.0.2~envoy-si.default~default.svc.cluster.local';
const HANG = 'outbound|80||hang.default.svc.cluster.local';
const RAW = 'outbound|80||raw.default.svc.cluster.local';
const H2 = 'outbound|80||h2.default.svc.cluster.local';

function resources(port: number, ports: { hang: number; raw: number; h2: number }): Resources {
  const hcm = {
    ...httpConnectionManager({ statPrefix: 'si', routeConfigName: 'si' }),
    stream_idle_timeout: durationFromMs(1000),
  };
  const noTimeout = { timeout: durationFromMs(0) };
  return {
    listeners: [httpListener({ name: 'si', address: '127.0.0.1', port, hcm: hcm as never })],
    routes: [
      routeConfiguration('si', [
        virtualHost('all', ['*'], [clusterRoute('/hang', HANG, noTimeout), clusterRoute('/garbage', RAW), clusterRoute('/h2/', H2), clusterRoute('/', RAW)]),
      ]),
    ],
    clusters: [edsCluster({ name: HANG, connectTimeoutMs: 1000 }), edsCluster({ name: RAW, connectTimeoutMs: 1000 }), edsCluster({ name: H2, connectTimeoutMs: 1000, http2: true })],
    endpoints: [
      clusterLoadAssignment(HANG, [{ address: '127.0.0.1', port: ports.hang }]),
      clusterLoadAssignment(RAW, [{ address: '127.0.0.1', port: ports.raw }]),
      clusterLoadAssignment(H2, [{ address: '127.0.0.1', port: ports.h2 }]),
    ],
  };
}

/** `status body` of one request ('reset' when the connection was reset, 'no answer' after 10 s). */
async function replyOf(port: number, p: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('no answer'), 10_000)));
  try {
    const reply = request(port, { path: p, host: 'svc.local' }).then((r) => `${r.status} ${r.body}`, () => 'reset');
    return await Promise.race([reply, limit]);
  } finally {
    clearTimeout(timer);
  }
}

describe('stream idle timeout and upstream reset flags match Envoy', () => {
  let ads: AdsServer;
  let bound: { port: number; close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  let hang: net.Server | undefined;
  let raw: net.Server | undefined;
  let h2: http2.Http2Server | undefined;
  const hungSockets = new Set<net.Socket>();
  let hungClosed = 0;
  let envoyPort = 0;
  let sidecarPort = 0;
  let dir = '';
  let logFile = '';
  let skip = false;

  const listen = async (s: net.Server): Promise<number> => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return (s.address() as net.AddressInfo).port;
  };

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    // Reads requests and never answers; counts the connections the proxies give up on.
    hang = net.createServer((s) => {
      hungSockets.add(s);
      s.on('error', () => undefined);
      s.resume();
      s.once('close', () => {
        hungSockets.delete(s);
        hungClosed++;
      });
    });
    raw = net.createServer((s) => {
      s.on('error', () => undefined);
      let head = '';
      s.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) s.end('GARBAGE\r\n\r\n');
      });
    });
    h2 = http2.createServer();
    h2.on('sessionError', () => undefined);
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      if (headers[':path'] === '/h2/refused') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else if (headers[':path'] === '/h2/short') {
        stream.respond({ ':status': 200, 'content-length': '10' });
        stream.end('ok');
      } else {
        stream.respond({ ':status': 200 });
        stream.end('fine');
      }
    });
    const ports = { hang: await listen(hang), raw: await listen(raw), h2: await listen(h2 as unknown as net.Server) };
    envoyPort = await freePort();
    sidecarPort = await freePort();
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(ENVOY_NODE, snapshot(resources(envoyPort, ports)));
    ads.setSnapshot(NODE_ID, snapshot(resources(sidecarPort, ports)));
    bound = await ads.listen('127.0.0.1:0');
    envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-si-'));
    logFile = path.join(dir, 'access.log');
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${bound.port}`, logName: 'stream-idle', accessLogPath: logFile });
    for (const port of [envoyPort, sidecarPort]) {
      await waitFor200(port, { path: '/h2/ok', host: 'svc.local' });
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    await bound?.close();
    for (const s of hungSockets) s.destroy();
    hang?.close();
    raw?.close();
    h2?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The flags the sidecar logged for `p` (last line for that path). */
  async function flagsFor(p: string): Promise<string> {
    let s = '';
    await waitUntil(`access log line for ${p}`, () => {
      const sl = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').filter((l) => l.includes(`"path":"${p}"`)) : [];
      if (sl.length === 0) return false;
      s = String((JSON.parse(sl[sl.length - 1]) as { response_flags: string }).response_flags);
      return true;
    }, 10_000);
    return s;
  }

  it('stream_idle_timeout: 504 with SI when the upstream never answers, and the upstream request is dropped', async (t) => {
    if (skip) return t.skip('envoy missing');
    const closedBefore = hungClosed;
    const [e, s] = await Promise.all([replyOf(envoyPort, '/hang'), replyOf(sidecarPort, '/hang')]);
    assert.equal(e, '504 stream timeout');
    assert.equal(s, e);
    assert.equal(await flagsFor('/hang'), 'SI');
    await waitUntil('both upstream connections closed', () => hungClosed >= closedBefore + 2, 5000);
  });

  it('an unparsable HTTP/1.1 response is 502 UPE', async (t) => {
    if (skip) return t.skip('envoy missing');
    const e = await replyOf(envoyPort, '/garbage');
    assert.equal(e, '502 upstream connect error or disconnect/reset before headers. reset reason: protocol error');
    assert.equal(await replyOf(sidecarPort, '/garbage'), e);
    assert.equal(await flagsFor('/garbage'), 'UPE');
  });

  it('an HTTP/2 upstream refusing the stream is 503 UR', async (t) => {
    if (skip) return t.skip('envoy missing');
    const e = await replyOf(envoyPort, '/h2/refused');
    assert.equal(e, '503 upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset');
    assert.equal(await replyOf(sidecarPort, '/h2/refused'), e);
    assert.equal(await flagsFor('/h2/refused'), 'UR');
  });

  it('an HTTP/2 upstream resetting a started response resets the downstream (UR)', async (t) => {
    if (skip) return t.skip('envoy missing');
    // The response started (200 headers went out), so both proxies reset the downstream.
    assert.equal(await replyOf(envoyPort, '/h2/short'), 'reset');
    assert.equal(await replyOf(sidecarPort, '/h2/short'), 'reset');
    const f = await flagsFor('/h2/short');
    assert.ok(f.split(',').includes('UR'), `sidecar flags ${f}`);
  });
});
