/**
 * A real Envoy takes its identity from the agent: its listener's DownstreamTlsContext refers to SDS
 * `default` and `ROOTCA` from the static cluster `sds-grpc` (HTTP/2 over the agent's Unix socket). A Node
 * TLS client with a certificate from the same Citadel sees the server's SPIFFE URI SAN; without a client
 * certificate it is refused (mTLS required). After a rotation Envoy serves the new certificate.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { sdsSecretConfig } from '@mesh/xds';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, waitFor, writeToken, type CitadelProcess } from './agent-harness';

const SERVER_ID = 'spiffe://cluster.local/ns/shop/sa/reviews';

function envoyConfig(sdsSocketPath: string, listenerPort: number): object {
  return {
    node: { id: 'sidecar~127.0.0.1~reviews-1.shop~shop.svc.cluster.local', cluster: 'reviews.shop' },
    static_resources: {
      listeners: [
        {
          name: 'inbound-mtls',
          address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
          filter_chains: [
            {
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                  require_client_certificate: true,
                  common_tls_context: {
                    tls_certificate_sds_secret_configs: [sdsSecretConfig('default')],
                    validation_context_sds_secret_config: sdsSecretConfig('ROOTCA'),
                  },
                },
              },
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'inbound',
                    // The peer's identity, as Envoy saw it, echoed back in a response header.
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'hello over mTLS' } } }],
                          response_headers_to_add: [{ header: { key: 'x-peer-uri-san', value: '%DOWNSTREAM_PEER_URI_SAN%' } }],
                        },
                      ],
                    },
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'sds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: sdsSocketPath } } } }] }] },
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        },
      ],
    },
  };
}

interface Exchange {
  serverSan: string;
  serverSerial: string;
  response: string;
}

/** One HTTP/1.1 request over TLS; the server must present `SERVER_ID` and chain to `ca`. */
function mtlsGet(port: number, ca: string, client?: { cert: string; key: string }): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca,
      ...(client ?? {}),
      checkServerIdentity: (_host, cert) => (cert.subjectaltname === `URI:${SERVER_ID}` ? undefined : new Error(`server SAN is ${cert.subjectaltname}`)),
    });
    let data = '';
    let peer: tls.PeerCertificate | undefined;
    const timer = setTimeout(() => socket.destroy(new Error('no response within 5 s')), 5000);
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => {
      peer = socket.getPeerCertificate();
      socket.write('GET / HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n');
    });
    socket.on('data', (d: string) => (data += d));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!data || !peer) reject(new Error('connection closed without a response'));
      else resolve({ serverSan: peer.subjectaltname ?? '', serverSerial: peer.serialNumber ?? '', response: data });
    });
  });
}

describe('a real Envoy with its certificate over SDS from the agent', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let server: NodeAgent | undefined;
  let client: NodeAgent | undefined;
  let envoy: EnvoyHandle | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
  });

  after(async () => {
    await envoy?.stop();
    await server?.stop();
    await client?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it('serves mTLS with the agent identity, requires a client certificate, and picks up a rotation', async (t) => {
    if (!requireDep(t, 'envoy')) return;
    const caDir = path.join(dir, 'ca');
    citadel = await startCitadel(caDir);
    const { logger } = recordingLogger();
    const base = { caAddress: citadel.address, caRootCertPath: citadel.rootCertPath, logger };
    server = await startNodeAgent({
      ...base,
      identity: { namespace: 'shop', serviceAccount: 'reviews' },
      tokenPath: await writeToken(caDir, path.join(dir), 'shop', 'reviews'),
      sdsSocketPath: path.join(dir, 'reviews', 'sds.sock'),
    });
    const clientDir = path.join(dir, 'client');
    mkdirSync(clientDir);
    client = await startNodeAgent({
      ...base,
      identity: { namespace: 'shop', serviceAccount: 'frontend' },
      tokenPath: await writeToken(caDir, clientDir, 'shop', 'frontend'),
    });

    const port = await freePort('127.0.0.1');
    envoy = await startEnvoy({ config: envoyConfig(server.sdsSocketPath ?? '', port) });
    const ca = server.current().rootCertPem;
    const clientCert = { cert: client.current().certChainPem, key: client.current().privateKeyPem };

    // The listener warms until both secrets have arrived over SDS.
    const first = await waitFor('Envoy serving TLS with the SDS certificate', () => mtlsGet(port, ca, clientCert).catch(() => undefined), 20_000);
    assert.match(first.response, /^HTTP\/1\.1 200/);
    assert.match(first.response, /hello over mTLS/);
    assert.equal(first.serverSan, `URI:${SERVER_ID}`);
    assert.equal(first.serverSerial.toUpperCase(), server.current().serialNumber.toUpperCase());
    assert.match(first.response, /x-peer-uri-san: spiffe:\/\/cluster\.local\/ns\/shop\/sa\/frontend/i, 'Envoy saw the client identity');

    // Without a client certificate Envoy refuses (the error may come at handshake or first read).
    await assert.rejects(mtlsGet(port, ca));

    // A rotation reaches Envoy over SDS.
    const before = server.current().serialNumber;
    await server.rotateNow();
    const after = server.current().serialNumber;
    assert.notEqual(after, before);
    const rotated = await waitFor(
      'Envoy serving the rotated certificate',
      async () => {
        const ex = await mtlsGet(port, ca, clientCert).catch(() => undefined);
        return ex && ex.serverSerial.toUpperCase() === after.toUpperCase() ? ex : undefined;
      },
      20_000,
    );
    assert.match(rotated.response, /^HTTP\/1\.1 200/);
  });
});
