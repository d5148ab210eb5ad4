import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createLogger } from './log';
import { defineErrors, GrpcStatus } from './errors';

describe('logger', () => {
  it('writes one JSON line per event with component and fields, and drops levels below the threshold', () => {
    const lines: string[] = [];
    const log = createLogger('pilot', 'info', { write: (l: string) => lines.push(l) }).child({ proxy: 'p1' });
    log.debug('hidden');
    log.warn('nack', { type: 'cds', error: new Error('bad') });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0] ?? '');
    assert.equal(rec.level, 'warn');
    assert.equal(rec.component, 'pilot');
    assert.equal(rec.proxy, 'p1');
    assert.deepEqual(rec.error, { message: 'bad' });
    assert.ok(lines[0]?.endsWith('\n'));
  });
});

describe('defineErrors', () => {
  it('builds stable codes with their status mapping from a table', () => {
    const errors = defineErrors('TEST', {
      NOT_THERE: { message: (p: { name: string }) => `no resource ${p.name}`, grpc: GrpcStatus.NOT_FOUND, http: 404 },
    });
    const e = errors.create('NOT_THERE', { name: 'x' });
    assert.equal(e.code, 'MESH_ERR_TEST_NOT_THERE');
    assert.equal(e.message, 'no resource x');
    assert.equal(e.grpcStatus, 5);
    assert.equal(e.httpStatus, 404);
    assert.ok(errors.is(e, 'NOT_THERE'));
    assert.deepEqual(errors.codes(), ['MESH_ERR_TEST_NOT_THERE']);
  });
});
