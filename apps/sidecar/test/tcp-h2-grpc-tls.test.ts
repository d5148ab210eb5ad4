/**
 * Protocols besides HTTP/1.1: TCP proxying with weighted clusters, HTTP/2 over cleartext (prior
 * knowledge) to an HTTP/1.1 upstream, gRPC pass-through (real grpc-js client and server: streaming,
 * status and trailers) to an HTTP/2 cluster, and TLS with ALPN (h2 and http/1.1) using a certificate made
 * by the real openssl.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  clusterLoadAssignment, clusterRoute, downstreamTlsTransportSocket, edsCluster, hcmNetworkFilter, httpConnectionManager, routeConfiguration, socketListener, tcpProxyFilter, virtualHost,
} from '@mesh/xds';
import { cluster, listener, startBackend, startHarness, request, type Backend, type Harness } from './helpers';

const identity = (b: Buffer): Buffer => b;
const ECHO_SERVICE: grpc.ServiceDefinition = {
  Chat: { path: '/test.Echo/Chat', requestStream: true, responseStream: true, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
  Fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};

function echoServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const s = net.createServer((c) => {
      c.write(`${name}:`);
      c.pipe(c);
    });
    s.listen(0, '127.0.0.1', () => resolve({ port: (s.address() as net.AddressInfo).port, close: () => new Promise((r) => s.close(() => r())) }));
  });
}

function tcpRoundTrip(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => {
      got += d.toString();
      if (got.endsWith(text)) {
        c.end();
        resolve(got);
      }
    });
    c.on('error', reject);
    c.write(text);
  });
}

describe('tcp, h2c, grpc and tls', () => {
  let e1: { port: number; close(): Promise<void> };
  let e2: { port: number; close(): Promise<void> };
  let web: Backend;
  let grpcServer: grpc.Server;
  let grpcPort = 0;
  let h: Harness;
  let tmp = '';
  let cert = '';

  before(async () => {
    e1 = await echoServer('one');
    e2 = await echoServer('two');
    web = await startBackend('web');
    grpcServer = new grpc.Server();
    grpcServer.addService(ECHO_SERVICE, {
      Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        call.on('data', (m: Buffer) => call.write(Buffer.from(`echo:${m.toString()}`)));
        call.on('end', () => call.end());
      },
      Fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const md = new grpc.Metadata();
        md.set('x-detail', 'why');
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'nope', metadata: md });
      },
    });
    grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sidecar-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem'), '-days', '1', '-subj', '/CN=svc.local', '-addext', 'subjectAltName=DNS:svc.local'], { stdio: 'ignore' });
    cert = fs.readFileSync(path.join(tmp, 'cert.pem'), 'utf8');
    const key = fs.readFileSync(path.join(tmp, 'key.pem'), 'utf8');

    const c1 = cluster('outbound|9000||one.default.svc.cluster.local', [{ port: e1.port }]);
    const c2 = cluster('outbound|9000||two.default.svc.cluster.local', [{ port: e2.port }]);
    const cw = cluster('outbound|80||web.default.svc.cluster.local', [{ port: web.port }]);
    const G = 'outbound|50051||grpc.default.svc.cluster.local';
    const cg = { cluster: edsCluster({ name: G, http2: true, connectTimeoutMs: 1000 }), endpoints: clusterLoadAssignment(G, [{ address: '127.0.0.1', port: grpcPort }]) };
    const routes = routeConfiguration('http.80', [virtualHost('all', ['*'], [clusterRoute('/test.Echo/', G), clusterRoute('/', 'outbound|80||web.default.svc.cluster.local')])]);
    const tls = socketListener({
      name: 'https.443',
      address: '127.0.0.1',
      port: 0,
      filterChains: [
        {
          filters: [hcmNetworkFilter(httpConnectionManager({ statPrefix: 'https', routeConfigName: 'http.80' }))],
          transport_socket: downstreamTlsTransportSocket({ common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: cert }, private_key: { inline_string: key } }], alpn_protocols: ['h2', 'http/1.1'] } } as never),
        } as never,
      ],
    });
    const tcp = socketListener({
      name: 'tcp.9000',
      address: '127.0.0.1',
      port: 0,
      filterChains: [{ filters: [tcpProxyFilter({ stat_prefix: 'tcp', weighted_clusters: { clusters: [{ name: 'outbound|9000||one.default.svc.cluster.local', weight: 50 }, { name: 'outbound|9000||two.default.svc.cluster.local', weight: 50 }] } })] }],
    });
    h = await startHarness({
      listeners: [listener('http.80', 'http.80'), tcp, tls],
      routes: [routes],
      clusters: [c1.cluster, c2.cluster, cw.cluster, cg.cluster],
      endpoints: [c1.endpoints, c2.endpoints, cw.endpoints, cg.endpoints],
    });
  });

  after(async () => {
    await h?.stop();
    await e1?.close();
    await e2?.close();
    await web?.close();
    grpcServer?.forceShutdown();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('proxies TCP both ways and splits connections across weighted clusters', async () => {
    const port = h.port('tcp.9000');
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const got = await tcpRoundTrip(port, `hello-${i}`);
      assert.ok(got.endsWith(`hello-${i}`));
      seen.add(got.split(':')[0] ?? '');
    }
    assert.deepEqual([...seen].sort(), ['one', 'two']);
    const prom = (await request(h.proxy.adminPort, { path: '/stats/prometheus' })).body;
    assert.match(prom, /istio_tcp_connections_opened_total\{[^}]*destination_service="one\.default\.svc\.cluster\.local"[^}]*\} \d+/);
  });

  it('serves HTTP/2 with prior knowledge (h2c) on an AUTO listener', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port('http.80')}`);
    try {
      const res = await new Promise<{ status: number; backend: string; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': '/h2', ':authority': 'svc.local' });
        let body = '';
        let status = 0;
        let backend = '';
        s.on('response', (hd) => {
          status = Number(hd[':status']);
          backend = String(hd['x-backend']);
        });
        s.on('data', (d: Buffer) => (body += d.toString()));
        s.on('end', () => resolve({ status, backend, body }));
        s.on('error', reject);
        s.end();
      });
      assert.equal(res.status, 200);
      assert.equal(res.backend, 'web');
      assert.equal((JSON.parse(res.body) as { url: string }).url, '/h2');
    } finally {
      session.close();
    }
  });

  it('passes gRPC through: bidi streaming, and status with trailers', async () => {
    const Client = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
    const client = new Client(`127.0.0.1:${h.port('http.80')}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Chat(): grpc.ClientDuplexStream<Buffer, Buffer>;
      Fail(req: Buffer, cb: (err: grpc.ServiceError | null) => void): void;
    };
    try {
      const replies = await new Promise<string[]>((resolve, reject) => {
        const call = client.Chat();
        const got: string[] = [];
        call.on('data', (m: Buffer) => got.push(m.toString()));
        call.on('end', () => resolve(got));
        call.on('error', reject);
        for (const w of ['a', 'b', 'c']) call.write(Buffer.from(w));
        call.end();
      });
      assert.deepEqual(replies, ['echo:a', 'echo:b', 'echo:c']);
      const err = await new Promise<grpc.ServiceError | null>((resolve) => client.Fail(Buffer.from('x'), resolve));
      assert.equal(err?.code, grpc.status.FAILED_PRECONDITION, err?.details);
      assert.equal(err?.details, 'nope');
      assert.deepEqual(err?.metadata.get('x-detail'), ['why']);
    } finally {
      client.close();
    }
  });

  it('terminates TLS and negotiates h2 or http/1.1 by ALPN', async () => {
    const port = h.port('https.443');
    const session = http2.connect(`https://127.0.0.1:${port}`, { ca: cert, servername: 'svc.local' });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const s = session.request({ ':path': '/tls-h2', ':authority': 'svc.local' });
        s.on('response', (hd) => resolve(Number(hd[':status'])));
        s.on('error', reject);
        s.resume();
        s.end();
      });
      assert.equal(status, 200);
      assert.equal(session.alpnProtocol, 'h2');
    } finally {
      session.close();
    }
    const h1 = await new Promise<{ status: number; proto: string; xfp: string }>((resolve, reject) => {
      const opts: https.RequestOptions & { ALPNProtocols: string[] } = { host: '127.0.0.1', port, path: '/tls-h1', servername: 'svc.local', ca: cert, headers: { host: 'svc.local' }, ALPNProtocols: ['http/1.1'], agent: false };
      const req = https.request(opts, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, proto: (res.socket as import('node:tls').TLSSocket).alpnProtocol || '', xfp: (JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-proto'] ?? '' }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(h1.status, 200);
    assert.equal(h1.proto, 'http/1.1');
    assert.equal(h1.xfp, 'https');
  });
});
