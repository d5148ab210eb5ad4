import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseFlags, usage } from './flags';

const specs = {
  'xds-address': { kind: 'address', description: 'xDS listen address', default: '127.0.0.1:15010', env: 'PILOT_XDS_ADDRESS' },
  'debounce-after': { kind: 'duration', description: 'quiet period', default: '100ms' },
  'node-id': { kind: 'string', description: 'proxy id', required: true },
  concurrency: { kind: 'int', description: 'workers', default: '1' },
} as const;

describe('parseFlags', () => {
  it('types values from argv, env and defaults in that order', () => {
    const r = parseFlags(specs, ['--node-id', 'a', '--debounce-after', '2s'], { PILOT_XDS_ADDRESS: '[::1]:0' });
    assert.ok(r.ok);
    assert.deepEqual(r.flags.xdsAddress, { host: '::1', port: 0 });
    assert.equal(r.flags.debounceAfter, 2000);
    assert.equal(r.flags.concurrency, 1);
    assert.equal(r.flags.logLevel, 'info');
  });

  it('names every bad flag and what is wrong with it', () => {
    const r = parseFlags(specs, ['--xds-address', 'nope', '--concurrency', 'two']);
    assert.ok(!r.ok);
    const byFlag = Object.fromEntries(r.errors.map((e) => [e.flag, e.message]));
    assert.match(byFlag['--xds-address'] ?? '', /host:port/);
    assert.match(byFlag['--concurrency'] ?? '', /integer.*two/);
    assert.match(byFlag['--node-id'] ?? '', /required/);
  });

  it('refuses unknown flags and bad log levels', () => {
    const unknown = parseFlags(specs, ['--node-id', 'a', '--bogus']);
    assert.ok(!unknown.ok);
    assert.match(unknown.errors[0]?.message ?? '', /bogus/);
    const level = parseFlags(specs, ['--node-id', 'a', '--log-level', 'loud']);
    assert.ok(!level.ok);
    assert.equal(level.errors[0]?.flag, '--log-level');
  });

  it('prints every flag with its default and environment variable in usage', () => {
    const text = usage({ command: 'pilot [flags]', summary: 'test' }, specs);
    assert.match(text, /--xds-address <host:port>\s+xDS listen address \(default 127\.0\.0\.1:15010; env PILOT_XDS_ADDRESS\)/);
    assert.match(text, /--log-level/);
  });
});
