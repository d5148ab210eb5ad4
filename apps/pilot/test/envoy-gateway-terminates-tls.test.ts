/**
 * Gateway TLS through a real Envoy gateway (`router~` node in istio-system), once over ADS SotW and once
 * over Delta: SIMPLE and MUTUAL servers with `credentialName` terminate TLS with certificates pilot serves
 * over ADS as SDS secrets (`kubernetes://<name>`, `kubernetes://<name>-cacert`) from Kubernetes Secrets in
 * the config dir, each server's filter chain chosen by SNI; MUTUAL refuses a client without a
 * certificate; a server whose Secret is missing is left out until the Secret appears; PASSTHROUGH sends
 * the still-encrypted stream by SNI to a TLS backend; httpsRedirect answers plain HTTP with a redirect.
 */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import { requireDep, startEnvoy, type EnvoyHandle } from '@mesh/deps';
import { dynamicResources, envoyBootstrap, httpGetText, readConfigDump } from '@mesh/xds/testing';
import { describeGatewayTls, GATEWAY_NODE } from './gateway-tls-scenario';

for (const mode of ['GRPC', 'DELTA_GRPC'] as const) {
  let envoy: EnvoyHandle | undefined;
  describeGatewayTls(
    `a real Envoy gateway (ADS ${mode}) terminates and passes through TLS as Gateway servers say`,
    async (t, pilot) => {
      if (!requireDep(t as never, 'envoy')) return undefined;
      envoy = await startEnvoy({
        config: envoyBootstrap({ nodeId: GATEWAY_NODE.id, xdsPort: pilot.xdsPort, mode, metadata: { NAMESPACE: GATEWAY_NODE.namespace, LABELS: GATEWAY_NODE.labels } }),
      });
      return envoy;
    },
    (state) => {
      it('applies every listener, route and secret (no rejection) and holds secrets named kubernetes://<credentialName>', async (t) => {
        if (!envoy) return t.skip('envoy missing');
        const dump = await readConfigDump(envoy.adminUrl);
        for (const kind of ['listeners', 'clusters', 'routes'] as const) {
          for (const r of dynamicResources(dump, kind)) assert.equal(r.error_state, undefined, `${kind} ${r.name}`);
        }
        const listener = dynamicResources(dump, 'listeners').find((l) => l.name === `127.0.0.1_${state().ports.https}`);
        assert.equal(listener?.state, 'active');
        const chains = (listener?.resource.filter_chains ?? []) as { filter_chain_match?: { server_names?: string[] } }[];
        assert.deepEqual(chains.map((c) => c.filter_chain_match?.server_names), [['a.example.com'], ['m.example.com']]);
        const secrets = dump.configs.find((c) => String(c['@type']).endsWith('SecretsConfigDump')) as { dynamic_active_secrets?: { name: string }[] } | undefined;
        assert.deepEqual((secrets?.dynamic_active_secrets ?? []).map((s) => s.name).sort(), ['kubernetes://a-cred', 'kubernetes://m-cred', 'kubernetes://m-cred-cacert']);
      });

      it('keeps private keys out of pilot\'s debug output (config_dump and configz)', async (t) => {
        if (!envoy) return t.skip('envoy missing');
        const base = `http://127.0.0.1:${String(state().pilot.debugPort)}`;
        const dump = await httpGetText(`${base}/debug/config_dump?proxyID=${encodeURIComponent(GATEWAY_NODE.id)}`);
        assert.equal(dump.status, 200);
        assert.ok(dump.body.includes('kubernetes://a-cred'), 'the secrets are listed');
        const configz = await httpGetText(`${base}/debug/configz`);
        assert.ok(configz.body.includes('"kind": "Secret"'), 'Secrets are listed');
        // One line of the private key's base64 body, as text, as base64, and as JSON Buffer bytes.
        const line = (state().pems.a?.key ?? '').split('\n')[1] ?? 'missing';
        const needles = [line, Buffer.from(line).toString('base64').slice(0, 40), Buffer.from(line).toJSON().data.join(',')];
        for (const body of [dump.body, configz.body]) {
          const compact = JSON.stringify(JSON.parse(body) as unknown);
          for (const n of needles) assert.ok(!compact.includes(n), `private key material in debug output (${n.slice(0, 20)}...)`);
        }
        const secretType = (JSON.parse(dump.body) as { configs: { typeUrl: string; resources: { name: string; private_key?: unknown; tls_certificate?: { private_key?: unknown } }[] }[] }).configs
          .find((c) => c.typeUrl.endsWith('.Secret'));
        assert.deepEqual(secretType?.resources.find((r) => r.name === 'kubernetes://a-cred')?.tls_certificate?.private_key, { inline_string: '[redacted]' });
      });
    },
  );
}
