/**
 * Citadel's gRPC transport (grpc-unary-server.ts, node:http2 without grpc-js) answers what is not a
 * well-formed call with a gRPC status, as a gRPC server must: an unknown method is UNIMPLEMENTED, a
 * compressed request it cannot read is UNIMPLEMENTED, a broken frame is INTERNAL, an oversized message
 * is RESOURCE_EXHAUSTED; a well-formed call from a plain HTTP/2 client gets one message and status 0.
 * Real TLS and HTTP/2 on loopback, against the real serve command.
 */
import { strict as assert } from 'node:assert';
import * as http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { createCsr, generateWorkloadKey } from '@mesh/xds';
import { grpcTimeoutMs } from '../src/grpc-unary-server';
import { removeDir, spiffe, startCitadel, tempDir, type TestCitadel } from './harness';

const PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

interface Answer {
  status: string | undefined;
  message: string;
  body: Buffer;
}

function frame(message: Buffer, compressed = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** IstioCertificateRequest { csr = 1 } */
function requestMessage(csrPem: string): Buffer {
  const csr = Buffer.from(csrPem);
  const len: number[] = [];
  for (let n = csr.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), csr]);
}

describe('the gRPC transport answers malformed calls with gRPC statuses', () => {
  let dir = '';
  let citadel: TestCitadel;
  let session: http2.ClientHttp2Session;
  let token = '';
  let csrPem = '';

  before(async () => {
    dir = await tempDir();
    citadel = await startCitadel(dir, [], 'info');
    session = http2.connect(`https://localhost:${citadel.grpcPort}`, { ca: await citadel.rootPem() });
    session.on('error', () => undefined);
    token = await citadel.token('default', 'web');
    csrPem = createCsr({ privateKey: (await generateWorkloadKey('ec-p256')).privateKey, uris: [spiffe('default', 'web')] });
  });

  after(async () => {
    session?.close();
    await citadel?.stop();
    await removeDir(dir);
  });

  function call(body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${token}`, ...headers });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      const take = (h: http2.IncomingHttpHeaders): void => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      stream.on('response', take);
      stream.on('trailers', take);
      stream.on('data', (d: Buffer) => chunks.push(d));
      stream.on('error', reject);
      stream.on('close', () => resolve({ status, message, body: Buffer.concat(chunks) }));
      stream.end(body);
    });
  }

  it('a well-formed call gets one response message and grpc-status 0', async () => {
    const answer = await call(frame(requestMessage(csrPem)), { 'grpc-timeout': '10S' });
    assert.equal(answer.status, '0', answer.message);
    assert.equal(answer.body[0], 0);
    assert.equal(answer.body.readUInt32BE(1), answer.body.length - 5);
    assert.match(answer.body.toString('latin1'), /BEGIN CERTIFICATE/);
  });

  it('an unknown method is UNIMPLEMENTED', async () => {
    const answer = await call(frame(requestMessage(csrPem)), { ':path': '/istio.v1.auth.IstioCertificateService/Nope' });
    assert.equal(answer.status, '12');
    assert.match(answer.message, /MESH_ERR_CITADEL_GRPC_METHOD_UNKNOWN: no gRPC method \/istio\.v1\.auth\.IstioCertificateService\/Nope/);
  });

  it('a compressed request is UNIMPLEMENTED, a compressed frame without an encoding is INTERNAL', async () => {
    const gzip = await call(frame(requestMessage(csrPem), 1), { 'grpc-encoding': 'gzip' });
    assert.equal(gzip.status, '12');
    assert.match(gzip.message, /GRPC_ENCODING_UNSUPPORTED/);
    const flagged = await call(frame(requestMessage(csrPem), 1));
    assert.equal(flagged.status, '13');
    assert.match(flagged.message, /GRPC_REQUEST_INVALID: .*compressed/);
  });

  it('a frame whose length does not match its body is INTERNAL', async () => {
    const whole = frame(requestMessage(csrPem));
    const answer = await call(whole.subarray(0, whole.length - 10));
    assert.equal(answer.status, '13');
    assert.match(answer.message, /GRPC_REQUEST_INVALID: not a valid gRPC request: expected one message of \d+ bytes, got \d+ bytes/);
  });

  it('a message above 4 MiB is RESOURCE_EXHAUSTED', async () => {
    const answer = await call(frame(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20)));
    assert.equal(answer.status, '8');
    assert.match(answer.message, /GRPC_MESSAGE_TOO_LARGE/);
  });

  it('reads grpc-timeout in every unit and ignores malformed values', () => {
    assert.equal(grpcTimeoutMs('10S'), 10_000);
    assert.equal(grpcTimeoutMs('2H'), 7_200_000);
    assert.equal(grpcTimeoutMs('3M'), 180_000);
    assert.equal(grpcTimeoutMs('250m'), 250);
    assert.equal(grpcTimeoutMs('1500u'), 1.5);
    assert.equal(grpcTimeoutMs('1000000n'), 1);
    assert.equal(grpcTimeoutMs('123456789S'), undefined);
    assert.equal(grpcTimeoutMs('10s'), undefined);
    assert.equal(grpcTimeoutMs(undefined), undefined);
  });
});
