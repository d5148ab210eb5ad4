import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { adsSecretNames, AdsSecrets } from './xds-secrets';

const ads = { ads: {}, resource_api_version: 'V3' };
const agent = { api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] } };

describe('SDS secrets over ADS', () => {
  it('names only the secrets listeners fetch over ADS (not the agent\'s default/ROOTCA)', () => {
    const tlsChain = (cert: object, ca?: object): object => ({
      filters: [],
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
          common_tls_context: { tls_certificate_sds_secret_configs: [cert], ...(ca ? { validation_context_sds_secret_config: ca } : {}) },
        },
      },
    });
    const names = adsSecretNames([
      { name: 'gw', filter_chains: [tlsChain({ name: 'kubernetes://b', sds_config: ads }, { name: 'kubernetes://b-cacert', sds_config: ads }), tlsChain({ name: 'kubernetes://a', sds_config: ads })] },
      { name: 'inbound', filter_chains: [tlsChain({ name: 'default', sds_config: agent }, { name: 'ROOTCA', sds_config: agent })] },
    ]);
    assert.deepEqual(names, ['kubernetes://a', 'kubernetes://b', 'kubernetes://b-cacert']);
  });

  it('keeps the previous secrets when an update has a bad one, and tells watchers what changed', () => {
    const s = new AdsSecrets();
    const changes: string[][] = [];
    s.onChange((c) => changes.push([...c]));
    assert.equal(s.update([{ name: 'kubernetes://a', tls_certificate: { certificate_chain: { inline_bytes: Buffer.from('CERT') }, private_key: { inline_bytes: Buffer.from('KEY') } } }]), undefined);
    assert.deepEqual(s.get('kubernetes://a'), { cert: 'CERT', key: 'KEY' });
    const errors = s.update([
      { name: 'kubernetes://a', tls_certificate: { certificate_chain: { inline_string: 'CERT2' } } },
      { name: 'kubernetes://c', generic_secret: {} },
    ]);
    assert.deepEqual(errors, [
      { resource: 'kubernetes://a', path: 'tls_certificate.private_key', message: 'is required' },
      { resource: 'kubernetes://c', path: 'secret', message: 'needs tls_certificate or validation_context (other secret kinds are not supported)' },
    ]);
    assert.deepEqual(s.get('kubernetes://a'), { cert: 'CERT', key: 'KEY' });
    assert.equal(s.update([{ name: 'kubernetes://a-cacert', validation_context: { trusted_ca: { inline_string: 'CA' } } }]), undefined);
    assert.equal(s.has('kubernetes://a'), false);
    assert.deepEqual(changes, [['kubernetes://a'], ['kubernetes://a-cacert', 'kubernetes://a']]);
  });
});
