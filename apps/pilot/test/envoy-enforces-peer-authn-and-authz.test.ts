/**
 * A real Envoy takes pilot's security translation: its certificate `default` and root `ROOTCA` come over
 * SDS (an AdsServer on a Unix socket, cluster `sds-grpc` in the bootstrap, as Istio's agent serves them);
 * pilot gives it three inbound ports, one per PeerAuthentication mode (workload policy PERMISSIVE, port
 * level STRICT and DISABLE), an AuthorizationPolicy (DENY by path, ALLOW by principal on the STRICT port),
 * and an egress port whose DestinationRule says ISTIO_MUTUAL. Real traffic from Node's TLS client (with
 * client certificates) and through Envoy's own outbound mTLS (SPIFFE SAN checked) shows what is enforced.
 */
import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import forge from 'node-forge';
import { freePort, requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { AdsServer, Snapshot, tlsCertificateSecret, TYPE_URL, validationContextSecret } from '@mesh/xds';
import { dynamicResources, envoyBootstrap, quietLogger, readConfigDump, readEnvoyStat, waitFor } from '@mesh/xds/testing';
import type { RunningPilot } from '../src/pilot';
import { startTestPilot, tempConfigDir, writeConfig } from './helpers';
import { startHttpBackend, type HttpBackend } from './http-backends';

interface Pem {
  cert: string;
  key: string;
}

function forgeKeys(): { publicKey: forge.pki.PublicKey; privateKey: forge.pki.rsa.PrivateKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const priv = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e), pem: privateKey };
}

function certificate(subjectCn: string, keys: ReturnType<typeof forgeKeys>, issuer: { cn: string; key: forge.pki.rsa.PrivateKey }, ca: boolean, uri?: string): string {
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = `1${forge.util.bytesToHex(forge.random.getBytesSync(8))}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject([{ name: 'organizationName', value: subjectCn }]);
  cert.setIssuer([{ name: 'organizationName', value: issuer.cn }]);
  cert.setExtensions(
    ca
      ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }]
      : [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
          { name: 'subjectAltName', critical: true, altNames: [{ type: 6, value: uri }] },
        ],
  );
  cert.sign(issuer.key, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

const NS = 'test';
const spiffe = (sa: string, ns = NS): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

function meshConfig(p: { strict: number; permissive: number; disable: number; tcp: number; egress: number; backend: number }): string {
  const ingress = (port: number, name: string): string => `  - {port: {number: ${port}, protocol: HTTP, name: http-${name}}, bind: 127.0.0.1, defaultEndpoint: "127.0.0.1:${p.backend}"}`;
  const service = (name: string, sa: string): string => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${name}.${NS}.svc.cluster.local]
  resolution: STATIC
  ports: [{number: ${p.egress}, name: http, protocol: HTTP}]
  workloadSelector: {labels: {svc: ${name}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}-1, namespace: ${NS}}
spec: {address: 127.0.0.1, ports: {http: ${p.strict}}, labels: {svc: ${name}}, serviceAccount: ${sa}}
`;
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: ${NS}}
spec:
  workloadSelector: {labels: {app: web}}
  ingress:
${ingress(p.strict, 'strict')}
${ingress(p.permissive, 'permissive')}
${ingress(p.disable, 'disable')}
  - {port: {number: ${p.tcp}, protocol: TCP, name: tcp}, bind: 127.0.0.1, defaultEndpoint: "127.0.0.1:${p.backend}"}
  egress:
  - {port: {number: ${p.egress}, protocol: HTTP, name: http}, bind: 127.0.0.1, captureMode: NONE, hosts: ["${NS}/*"]}
${service('right', 'web')}${service('impostor', 'someone-else')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mtls, namespace: ${NS}}
spec:
  host: "*.${NS}.svc.cluster.local"
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: web}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls: {"${p.strict}": {mode: STRICT}, "${p.disable}": {mode: DISABLE}}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: no-admin, namespace: ${NS}}
spec:
  action: DENY
  rules:
  - to: [{operation: {ports: ["${p.strict}", "${p.permissive}", "${p.disable}"], paths: ["/admin*"]}}]
  - from: [{source: {ipBlocks: ["127.0.0.2/32"]}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: web, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/${NS}/sa/client", "cluster.local/ns/${NS}/sa/web"]}}]
    to: [{operation: {ports: ["${p.strict}"]}}]
  - to: [{operation: {ports: ["${p.permissive}", "${p.disable}", "${p.tcp}"]}}]
`;
}

interface Reply {
  status: number;
  body: string;
}

function plain(port: number, path: string, host = 'web', localAddress = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, localAddress, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function mtls(port: number, path: string, ca: string, client: Pem): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      // The server certificate carries only a SPIFFE URI SAN: check the chain, not a host name.
      { host: '127.0.0.1', port, path, ca, cert: client.cert, key: client.key, servername: 'web', checkServerIdentity: () => undefined, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

describe('Envoy enforces PeerAuthentication and AuthorizationPolicy from pilot', () => {
  const nodeId = `sidecar~127.0.0.1~web-1.${NS}~${NS}.svc.cluster.local`;
  const dir = mkdtempSync(join(tmpdir(), 'pilot-sec-'));
  const socket = join(dir, 'sds.sock');
  const sds = new AdsServer({ logger: quietLogger() });
  let sdsBound: { close(): Promise<void> } | undefined;
  let pilot: RunningPilot | undefined;
  let envoy: EnvoyHandle | undefined;
  let backend: HttpBackend | undefined;
  const ports = { strict: 0, permissive: 0, disable: 0, tcp: 0, egress: 0, backend: 0 };
  let root = '';
  let client: Pem = { cert: '', key: '' };
  let intruder: Pem = { cert: '', key: '' };
  let skipped = false;

  before(async (t) => {
    if (!requireDep(t as never, 'envoy')) {
      skipped = true;
      return;
    }
    const rootKeys = forgeKeys();
    root = certificate('mesh-root', rootKeys, { cn: 'mesh-root', key: rootKeys.privateKey }, true);
    const leaf = (sa: string, ns = NS): Pem => {
      const k = forgeKeys();
      return { cert: certificate(sa, k, { cn: 'mesh-root', key: rootKeys.privateKey }, false, spiffe(sa, ns)), key: k.pem };
    };
    const web = leaf('web');
    client = leaf('client');
    intruder = leaf('intruder', 'other');
    sds.setSnapshot(nodeId, new Snapshot({ [TYPE_URL.SECRET]: { version: '1', resources: [tlsCertificateSecret('default', web.cert, web.key), validationContextSecret('ROOTCA', root)] } }));
    sdsBound = await sds.listen(`unix://${socket}`, undefined, { ads: false });

    backend = await startHttpBackend('web-app');
    ports.backend = backend.port;
    for (const k of ['strict', 'permissive', 'disable', 'tcp', 'egress'] as const) ports[k] = await freePort('127.0.0.1');
    const configDir = tempConfigDir();
    writeConfig(configDir, 'mesh.yaml', meshConfig(ports));
    pilot = await startTestPilot(configDir);

    const config = envoyBootstrap({ nodeId, xdsPort: pilot.xdsPort, metadata: { NAMESPACE: NS, INTERCEPTION_MODE: 'NONE', LABELS: { app: 'web' } } });
    const statics = config.static_resources as { clusters: Record<string, unknown>[] };
    statics.clusters.push({
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
    });
    envoy = await startEnvoy({ config });
    const started = envoy;
    await waitFor('the PERMISSIVE inbound port carries plaintext', async () => (await plain(ports.permissive, '/').catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
    }).catch(async (err: Error) => {
      const dump = await readConfigDump(started.adminUrl).catch(() => ({ configs: [] }));
      throw new Error(`${err.message}\nEnvoy log tail:\n${started.logs().slice(-3000)}\nlisteners: ${JSON.stringify(dynamicResources(dump, 'listeners')).slice(0, 3000)}`);
    });
  });

  after(async () => {
    await envoy?.stop();
    await pilot?.stop();
    await sdsBound?.close();
    await backend?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies every listener and cluster without error_state', async (t) => {
    if (skipped || !envoy) return t.skip('envoy missing');
    const dump = await readConfigDump(envoy.adminUrl);
    const listeners = dynamicResources(dump, 'listeners');
    assert.deepEqual(listeners.map((l) => l.name).sort(), [ports.strict, ports.permissive, ports.disable, ports.tcp, ports.egress].map((p) => `127.0.0.1_${p}`).sort());
    for (const kind of ['listeners', 'clusters'] as const) {
      for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${kind} ${r.name}: ${JSON.stringify(r.error_state)}`);
    }
    const clusters = dynamicResources(dump, 'clusters').map((c) => c.name);
    assert.ok(clusters.includes(`outbound|${ports.egress}||right.${NS}.svc.cluster.local`), clusters.join());
  });

  it('STRICT refuses plaintext and serves mTLS', async (t) => {
    if (skipped) return t.skip('envoy missing');
    await assert.rejects(plain(ports.strict, '/'), 'plaintext finds no filter chain');
    const r = await mtls(ports.strict, '/hello', root, client);
    assert.deepEqual(r, { status: 200, body: 'web-app' });
  });

  it('PERMISSIVE accepts both, DISABLE only plaintext', async (t) => {
    if (skipped) return t.skip('envoy missing');
    assert.equal((await plain(ports.permissive, '/')).body, 'web-app');
    assert.equal((await mtls(ports.permissive, '/', root, client)).body, 'web-app');
    assert.equal((await plain(ports.disable, '/')).body, 'web-app');
    await assert.rejects(mtls(ports.disable, '/', root, client), 'no TLS on a DISABLE port');
  });

  it('AuthorizationPolicy: DENY by path and ALLOW by principal answer 403 "RBAC: access denied"', async (t) => {
    if (skipped) return t.skip('envoy missing');
    assert.deepEqual(await plain(ports.permissive, '/admin/x'), { status: 403, body: 'RBAC: access denied' });
    assert.deepEqual(await mtls(ports.strict, '/admin', root, client), { status: 403, body: 'RBAC: access denied' });
    assert.deepEqual(await mtls(ports.strict, '/ok', root, intruder), { status: 403, body: 'RBAC: access denied' }, 'principal not allowed');
    assert.equal((await mtls(ports.permissive, '/ok', root, intruder)).status, 200, 'no principal rule on the PERMISSIVE port');
  });

  it('TCP chains: network RBAC lets 127.0.0.1 through tcp_proxy and closes a connection from a denied ipBlock', async (t) => {
    if (skipped || !envoy) return t.skip('envoy missing');
    assert.equal((await plain(ports.tcp, '/over-tcp')).body, 'web-app', 'allowed by port, proxied as bytes');
    const before = (await readEnvoyStat(envoy.adminUrl, 'tcp.rbac.denied')) ?? 0;
    await assert.rejects(plain(ports.tcp, '/over-tcp', 'web', '127.0.0.2'), 'the DENY ipBlock closes the connection');
    assert.equal((await readEnvoyStat(envoy.adminUrl, 'tcp.rbac.denied')) ?? 0, before + 1);
  });

  it("ISTIO_MUTUAL outbound checks the destination's SPIFFE identity", async (t) => {
    if (skipped) return t.skip('envoy missing');
    // Envoy -> its own STRICT port with its certificate (sa/web): the SAN it expects is the WorkloadEntry's account.
    const ok = await plain(ports.egress, '/via-mesh', `right.${NS}.svc.cluster.local`);
    assert.deepEqual(ok, { status: 200, body: 'web-app' });
    const bad = await plain(ports.egress, '/via-mesh', `impostor.${NS}.svc.cluster.local`);
    assert.equal(bad.status, 503, `expected a SAN mismatch, got ${bad.status} ${bad.body}`);
  });
});
