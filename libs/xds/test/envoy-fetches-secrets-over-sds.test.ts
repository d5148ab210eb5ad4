/**
 * A real Envoy fetches its serving certificate over SDS (StreamSecrets) from the AdsServer on a Unix
 * socket, as Istio's agent serves it: an SdsSecretConfig `default` through the `sds-grpc` cluster. The TLS
 * listener then presents exactly that certificate; a rotated secret is picked up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import { depPath, freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, sdsSecretConfig, Snapshot, tlsCertificateSecret, TYPE_URL } from '../src/index';
import { quietLogger, waitFor } from '../src/testing';

function selfSigned(cn: string): { certPem: string; keyPem: string; serial: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = forge.util.bytesToHex(forge.random.getBytesSync(8)).replace(/^[089a-f]/, '1');
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer([{ name: 'commonName', value: cn }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey), serial: cert.serialNumber };
}

function bootstrap(nodeId: string, socket: string, port: number): Record<string, unknown> {
  return {
    node: { id: nodeId, cluster: 'sds-test' },
    static_resources: {
      listeners: [
        {
          name: 'https',
          address: { socket_address: { address: '127.0.0.1', port_value: port } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'https',
                    route_config: {
                      virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }],
                    },
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                  },
                },
              ],
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                  common_tls_context: { tls_certificate_sds_secret_configs: [sdsSecretConfig('default', 'sds-grpc')] },
                },
              },
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'sds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }] },
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

/** The serial number of the certificate the TLS server at port presents. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'test' }, () => {
      const serial = socket.getPeerCertificate().serialNumber ?? '';
      socket.end();
      resolve(serial.toLowerCase());
    });
    socket.setTimeout(3000, () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

describe('Envoy fetches its certificate over SDS', () => {
  const nodeId = 'sidecar~127.0.0.1~sds.test~test.svc.cluster.local';
  const dir = mkdtempSync(join(tmpdir(), 'xds-sds-'));
  const socket = join(dir, 'sds.sock');
  const ads = new AdsServer({ logger: quietLogger() });
  let bound: { close(): Promise<void> } | undefined;
  let envoy: EnvoyHandle | undefined;
  let port = 0;

  before(async () => {
    if (!depPath('envoy')) return;
    bound = await ads.listen(`unix://${socket}`, undefined, { ads: false });
    port = await freePort('127.0.0.1');
  });
  after(async () => {
    await envoy?.stop();
    await bound?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the SDS certificate and picks up a rotated one', async (t) => {
    if (!requireDep(t, 'envoy')) return;
    const first = selfSigned('first');
    ads.setSnapshot(nodeId, new Snapshot({ [TYPE_URL.SECRET]: { version: '1', resources: [tlsCertificateSecret('default', first.certPem, first.keyPem)] } }));
    envoy = await startEnvoy({ config: bootstrap(nodeId, socket, port) });
    const serial1 = await waitFor('Envoy serving TLS with the SDS certificate', () => servedSerial(port), { timeoutMs: 20_000, intervalMs: 200 });
    assert.equal(serial1, first.serial.toLowerCase());
    const sds = ads.status().find((c) => c.node.id === nodeId);
    assert.equal(sds?.kind, 'sds');
    assert.deepEqual(sds?.types.find((x) => x.typeUrl === TYPE_URL.SECRET)?.subscribed, ['default']);

    const second = selfSigned('second');
    ads.setSnapshot(nodeId, new Snapshot({ [TYPE_URL.SECRET]: { version: '2', resources: [tlsCertificateSecret('default', second.certPem, second.keyPem)] } }));
    const serial2 = await waitFor('the rotated certificate', async () => {
      const s = await servedSerial(port);
      return s === second.serial.toLowerCase() ? s : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100 });
    assert.equal(serial2, second.serial.toLowerCase());
    await waitFor('SDS v2 acked', () => ads.status().find((c) => c.node.id === nodeId)?.types[0]?.ackedVersion === '2');
  });
});
