/**
 * Conformance with Envoy for filter_chain_match: one AdsServer serves the same listeners to a real Envoy
 * and to the sidecar. Every chain ends in a tcp_proxy to its own TCP backend that writes its chain's name
 * and closes, so the bytes a client reads say which chain took the connection. Clients vary what Envoy
 * matches on: SNI and ALPN in the ClientHello (TLS chains terminate TLS with an inline certificate), the
 * HTTP/1.0 vs HTTP/1.1 request line (http_inspector), the destination address (listener on 0.0.0.0,
 * clients dial 127.0.0.x), the source address and port (clients bind 127.0.0.x and fixed ports), and a
 * second listener shows that a destination_port bucket does not fall back to a wider chain but to the
 * default_filter_chain.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import { requireDep, startEnvoy, freePort, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, downstreamTlsTransportSocket, socketListener, tcpProxyFilter, typedConfig, type FilterChain } from '@mesh/xds';
import { envoyBootstrap, quietLogger } from '@mesh/xds/testing';
import type { Proxy } from '../src/proxy';
import { cluster, NODE_ID, snapshot, startProxy, waitUntil, type Resources } from './helpers';

const ENVOY_NODE = 'sidecar~127.0.0.2~envoy-fcm.default~default.svc.cluster.local';

/** A self-signed certificate for *.example.com (RSA 2048: Envoy refuses smaller RSA keys). */
function selfSigned(): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const attrs = [{ name: 'commonName', value: 'example.com' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 2, value: '*.example.com' }] }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keyPem };
}

interface ChainSpec {
  name: string;
  match?: Record<string, unknown>;
  tls?: boolean;
}

const cidr = (ip: string) => ({ address_prefix: ip, prefix_len: { value: 32 } });

/** The main listener's chains (see the header comment for what each one proves). */
function mainChains(sourcePorts: number[]): ChainSpec[] {
  return [
    { name: 'sni-exact', tls: true, match: { server_names: ['api.example.com'] } },
    { name: 'sni-wild', tls: true, match: { server_names: ['*.example.com'] } },
    { name: 'sni-deep', tls: true, match: { server_names: ['*.deep.example.com'] } },
    { name: 'alpn-foo', tls: true, match: { server_names: ['alpn.example.org'], application_protocols: ['foo'] } },
    { name: 'alpn-bar', tls: true, match: { server_names: ['alpn.example.org'], application_protocols: ['bar'] } },
    { name: 'alpn-any', tls: true, match: { server_names: ['alpn.example.org'] } },
    { name: 'tls-any', tls: true, match: { transport_protocol: 'tls' } },
    // SNI routing without terminating TLS: the backends are TLS servers themselves
    { name: 'pass-alpha', match: { server_names: ['alpha.passthrough.org'] } },
    { name: 'pass-beta', match: { server_names: ['beta.passthrough.org'] } },
    { name: 'plain', match: { transport_protocol: 'raw_buffer' } },
    { name: 'h10', match: { transport_protocol: 'raw_buffer', application_protocols: ['http/1.0'] } },
    { name: 'dst-5', match: { prefix_ranges: [cidr('127.0.0.5')] } },
    { name: 'src-2', match: { transport_protocol: 'raw_buffer', source_prefix_ranges: [cidr('127.0.0.2')] } },
    { name: 'direct-4', match: { transport_protocol: 'raw_buffer', direct_source_prefix_ranges: [cidr('127.0.0.4')] } },
    { name: 'src-4', match: { transport_protocol: 'raw_buffer', source_prefix_ranges: [cidr('127.0.0.4')] } },
    { name: 'sport', match: { transport_protocol: 'raw_buffer', source_ports: sourcePorts } },
  ];
}

/** Envoy's SAME_IP_OR_LOOPBACK: the source is 127.0.0.1 / ::1 or the destination's own IP; a local client never reaches an ANY chain once a chain asks for local. */
const SOURCE_TYPE_CHAINS: ChainSpec[] = [
  { name: 'local-8', match: { source_type: 'SAME_IP_OR_LOOPBACK', source_prefix_ranges: [cidr('127.0.0.8')] } },
  { name: 'any-8', match: { source_prefix_ranges: [cidr('127.0.0.8')] } },
  { name: 'external', match: { source_type: 'EXTERNAL' } },
  { name: 'any' },
];
const CHAIN_NAMES = [...mainChains([1]).map((c) => c.name), ...SOURCE_TYPE_CHAINS.map((c) => c.name), 'd-port', 'd-any', 'd-default', 't-default'];
const clusterOf = (chain: string) => `chain|${chain}`;

function resources(mainPort: number, portListener: number, typeListener: number, sourcePorts: number[], backends: Map<string, number>, pem: { cert: string; key: string }): Resources {
  const chain = (c: ChainSpec): FilterChain => {
    const fc: FilterChain = { name: c.name, filters: [tcpProxyFilter({ stat_prefix: c.name, cluster: clusterOf(c.name) } as never)] };
    if (c.match) fc.filter_chain_match = c.match as FilterChain['filter_chain_match'];
    if (c.tls) fc.transport_socket = downstreamTlsTransportSocket({ common_tls_context: { tls_certificates: [{ certificate_chain: { inline_string: pem.cert }, private_key: { inline_string: pem.key } }] } });
    return fc;
  };
  const inspectors = [
    { name: 'envoy.filters.listener.tls_inspector', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector', {}) },
    { name: 'envoy.filters.listener.http_inspector', typed_config: typedConfig('type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector', {}) },
  ];
  const main = socketListener({ name: 'fcm-main', address: '0.0.0.0', port: mainPort, filterChains: mainChains(sourcePorts).map(chain), listenerFilters: inspectors });
  const ports = {
    ...socketListener({
      name: 'fcm-port',
      address: '127.0.0.1',
      port: portListener,
      filterChains: [chain({ name: 'd-port', match: { destination_port: { value: portListener }, source_prefix_ranges: [cidr('127.0.0.11')] } }), chain({ name: 'd-any' })],
    }),
    default_filter_chain: chain({ name: 'd-default' }),
  };
  const types = { ...socketListener({ name: 'fcm-type', address: '0.0.0.0', port: typeListener, filterChains: SOURCE_TYPE_CHAINS.map(chain) }), default_filter_chain: chain({ name: 't-default' }) };
  const clusters = CHAIN_NAMES.map((n) => cluster(clusterOf(n), [{ port: backends.get(n) ?? 0 }]));
  return { listeners: [main, ports, types], clusters: clusters.map((c) => c.cluster), endpoints: clusters.map((c) => c.endpoints) };
}

/** A TCP server that writes `name` to every connection and closes it. */
async function nameServer(name: string): Promise<net.Server> {
  const server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A TLS server that writes `name` on every connection and closes it (a passthrough chain's backend). */
async function tlsNameServer(name: string, pem: { cert: string; key: string }): Promise<net.Server> {
  const server = tls.createServer({ cert: pem.cert, key: pem.key }, (s) => {
    s.on('error', () => undefined);
    s.end(name);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A client transport that writes 16 bytes at a time, so the ClientHello reaches the proxy in many pieces. */
class Trickle extends Duplex {
  constructor(private readonly sock: net.Socket) {
    super();
    sock.on('data', (d: Buffer) => this.push(d));
    sock.on('end', () => this.push(null));
    sock.on('close', () => this.destroy());
    sock.on('error', (e) => this.destroy(e));
  }

  override _read(): void {
    // data is pushed as it arrives from the socket
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let i = 0;
    const step = (): void => {
      if (i >= chunk.length) return cb();
      this.sock.write(chunk.subarray(i, i + 16));
      i += 16;
      setTimeout(step, 1);
    };
    step();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.sock.end();
    cb();
  }
}

/** What came back before the connection closed ('closed' when nothing did). */
function collect(socket: net.Socket | tls.TLSSocket): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out === '' ? 'closed' : out);
    });
  });
}

interface Client {
  name: string;
  listener: 'main' | 'port' | 'type';
  tls?: { servername?: string; alpn?: string[]; trickle?: boolean };
  /** the request line written on plaintext connections */
  line?: string;
  to?: string;
  from?: string;
  /** index into the source ports reserved for this run */
  sourcePort?: number;
  want: string;
}

const CLIENTS: Client[] = [
  { name: 'exact SNI', listener: 'main', tls: { servername: 'api.example.com' }, want: 'sni-exact' },
  { name: 'wildcard SNI', listener: 'main', tls: { servername: 'www.example.com' }, want: 'sni-wild' },
  { name: 'longest wildcard SNI wins', listener: 'main', tls: { servername: 'a.deep.example.com' }, want: 'sni-deep' },
  { name: 'a wildcard does not match the bare domain', listener: 'main', tls: { servername: 'example.com' }, want: 'tls-any' },
  { name: 'TLS without SNI', listener: 'main', tls: {}, want: 'tls-any' },
  { name: 'ALPN: the client\'s first protocol that a chain names', listener: 'main', tls: { servername: 'alpn.example.org', alpn: ['bar', 'foo'] }, want: 'alpn-bar' },
  { name: 'ALPN: second protocol', listener: 'main', tls: { servername: 'alpn.example.org', alpn: ['zzz', 'foo'] }, want: 'alpn-foo' },
  { name: 'ALPN: none named falls to the chain without protocols', listener: 'main', tls: { servername: 'alpn.example.org', alpn: ['baz'] }, want: 'alpn-any' },
  { name: 'SNI passthrough: TLS not terminated, the backend answers over TLS', listener: 'main', tls: { servername: 'alpha.passthrough.org' }, want: 'pass-alpha' },
  { name: 'SNI passthrough with the ClientHello arriving 16 bytes at a time', listener: 'main', tls: { servername: 'beta.passthrough.org', trickle: true }, want: 'pass-beta' },
  { name: 'plaintext HTTP/1.1', listener: 'main', line: 'GET / HTTP/1.1', want: 'plain' },
  { name: 'http_inspector: HTTP/1.0 beats the source prefix', listener: 'main', line: 'GET / HTTP/1.0', from: '127.0.0.2', want: 'h10' },
  { name: 'source prefix', listener: 'main', line: 'GET / HTTP/1.1', from: '127.0.0.2', want: 'src-2' },
  { name: 'destination prefix', listener: 'main', line: 'GET / HTTP/1.1', to: '127.0.0.5', want: 'dst-5' },
  { name: 'direct source prefix beats source prefix', listener: 'main', line: 'GET / HTTP/1.1', from: '127.0.0.4', want: 'direct-4' },
  { name: 'source type: same IP as the destination is local, local beats ANY', listener: 'type', line: 'x', from: '127.0.0.8', to: '127.0.0.8', want: 'local-8' },
  { name: 'source type: only 127.0.0.1 is loopback, 127.0.0.8 is EXTERNAL', listener: 'type', line: 'x', from: '127.0.0.8', want: 'external' },
  { name: 'source type: a local client never falls back to ANY chains once a local chain exists', listener: 'type', line: 'x', want: 't-default' },
  { name: 'source port', listener: 'main', line: 'GET / HTTP/1.1', sourcePort: 0, want: 'sport' },
  { name: 'destination port bucket without a match: default chain, not the wider chain', listener: 'port', line: 'x', want: 'd-default' },
  { name: 'destination port and source prefix', listener: 'port', line: 'x', from: '127.0.0.11', want: 'd-port' },
];

const PLAIN = CLIENTS.find((c) => c.want === 'plain' && !c.from) as Client;

describe('conformance with Envoy: filter chain matching', () => {
  const servers: net.Server[] = [];
  const backends = new Map<string, number>();
  let ads: AdsServer | undefined;
  let bound: { port: number; close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let proxy: Proxy | undefined;
  const ports = { envoy: { main: 0, port: 0, type: 0 }, sidecar: { main: 0, port: 0, type: 0 } };
  /** per proxy: local ports the source-port client binds (two each: a closed connection leaves TIME_WAIT) */
  const sourcePorts = { envoy: [0, 0], sidecar: [0, 0] };
  let skip = false;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skip = true;
      return;
    }
    const pem = selfSigned();
    for (const n of CHAIN_NAMES) {
      const s = n.startsWith('pass-') ? await tlsNameServer(n, pem) : await nameServer(n);
      servers.push(s);
      backends.set(n, (s.address() as net.AddressInfo).port);
    }
    for (const who of ['envoy', 'sidecar'] as const) {
      ports[who] = { main: await freePort(), port: await freePort(), type: await freePort() };
      sourcePorts[who] = [await freePort(), await freePort()];
    }
    const all = [...sourcePorts.envoy, ...sourcePorts.sidecar];
    ads = new AdsServer({ logger: quietLogger() });
    ads.setSnapshot(ENVOY_NODE, snapshot(resources(ports.envoy.main, ports.envoy.port, ports.envoy.type, all, backends, pem)));
    ads.setSnapshot(NODE_ID, snapshot(resources(ports.sidecar.main, ports.sidecar.port, ports.sidecar.type, all, backends, pem)));
    bound = await ads.listen('127.0.0.1:0');
    envoy = await startEnvoy({ config: envoyBootstrap({ nodeId: ENVOY_NODE, xdsPort: bound.port }), concurrency: 1 });
    proxy = await startProxy({ xdsTarget: `127.0.0.1:${bound.port}`, logName: 'conformance-fcm' });
    for (const who of ['envoy', 'sidecar'] as const) {
      let answer = '';
      await waitUntil(`${who} listener`, () => {
        void dial(who, PLAIN).then((r) => (answer = r));
        return answer === 'plain';
      }, 30_000).catch(async (err: Error) => {
        const stats = who === 'envoy' && envoy ? await fetch(`${envoy.adminUrl}/stats?filter=no_filter_chain_match`).then((r) => r.text()) : '';
        throw new Error(`${err.message} (last answer ${answer}) ${stats} ${envoy?.logs().slice(-2000) ?? ''}`);
      });
    }
  });

  after(async () => {
    await proxy?.stop();
    await envoy?.stop();
    await bound?.close();
    for (const s of servers) s.close();
  });

  const used = { envoy: 0, sidecar: 0 };
  function dial(who: 'envoy' | 'sidecar', c: Client): Promise<string> {
    const port = ports[who][c.listener];
    const host = c.to ?? '127.0.0.1';
    const localPort = c.sourcePort !== undefined ? sourcePorts[who][used[who]++ % 2] : undefined;
    if (c.tls) {
      const transport = c.tls.trickle ? { socket: new Trickle(net.connect({ host, port })) } : { host, port };
      const s = tls.connect({ ...transport, servername: c.tls.servername, ALPNProtocols: c.tls.alpn, rejectUnauthorized: false });
      s.once('secureConnect', () => s.write('hello'));
      return collect(s);
    }
    const s = net.connect({ host, port, localAddress: c.from, localPort });
    s.once('connect', () => s.write(`${c.line ?? ''}\r\nhost: x\r\n\r\n`));
    return collect(s);
  }

  for (const c of CLIENTS) {
    it(`same chain: ${c.name}`, async (t) => {
      if (skip) return t.skip('envoy not installed');
      const viaEnvoy = await dial('envoy', c);
      const viaSidecar = await dial('sidecar', c);
      assert.equal(viaEnvoy, c.want, 'envoy picked another chain than this test expects');
      assert.equal(viaSidecar, viaEnvoy);
    });
  }
});
