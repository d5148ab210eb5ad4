/**
 * What a user sees when the agent cannot get a certificate: Citadel's refusal of a bad or foreign token,
 * a missing token file, an invalid identity, and Citadel unreachable at start-up.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@mesh/deps';
import { startNodeAgent, type NodeAgentOptions } from '../src/agent';
import { agentErrors } from '../src/agent-errors';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, writeToken, type CitadelProcess } from './agent-harness';

describe('node agent refusals', () => {
  let dir: string;
  let citadel: CitadelProcess;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
    citadel = await startCitadel(path.join(dir, 'ca'));
  });

  after(async () => {
    await citadel?.stop();
    removeDir(dir);
  });

  function options(tokenPath: string, extra: Partial<NodeAgentOptions> = {}): NodeAgentOptions & { lines: string[] } {
    const { logger, lines } = recordingLogger();
    return {
      identity: { namespace: 'payments', serviceAccount: 'ledger' },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath,
      logger,
      lines,
      ...extra,
    };
  }

  it('a garbage token: start fails at once with Citadel refusal and reason', async () => {
    const tokenPath = path.join(dir, 'garbage-token');
    writeFileSync(tokenPath, 'not-a-token\n');
    const opts = options(tokenPath);
    await assert.rejects(startNodeAgent(opts), (err: Error) => {
      assert.ok(agentErrors.is(err, 'AGENT_CA_REFUSED'), String(err));
      assert.match(err.message, /^Citadel at 127\.0\.0\.1:\d+ refused the certificate request \(UNAUTHENTICATED\): \S/);
      return true;
    });
    assert.ok(!opts.lines.some((l) => l.includes('retrying')), 'a refusal is not retried');
  });

  it('a valid token of another identity: PERMISSION_DENIED naming both identities', async () => {
    const tokenPath = await writeToken(path.join(dir, 'ca'), path.join(dir), 'payments', 'someone-else');
    await assert.rejects(startNodeAgent(options(tokenPath)), (err: Error) => {
      assert.ok(agentErrors.is(err, 'AGENT_CA_REFUSED'), String(err));
      assert.match(err.message, /\(PERMISSION_DENIED\)/);
      assert.match(err.message, /spiffe:\/\/cluster\.local\/ns\/payments\/sa\/ledger/);
      return true;
    });
  });

  it('a missing token file and an invalid identity are named', async () => {
    const missing = path.join(dir, 'no-such-token');
    await assert.rejects(startNodeAgent(options(missing)), (err: Error) => {
      assert.ok(agentErrors.is(err, 'AGENT_TOKEN_UNREADABLE'), String(err));
      assert.ok(err.message.includes(missing));
      return true;
    });
    await assert.rejects(startNodeAgent(options(missing, { identity: { namespace: 'Bad_NS', serviceAccount: 'x' } })), (err: Error) => {
      assert.ok(agentErrors.is(err, 'AGENT_IDENTITY_INVALID'), String(err));
      assert.match(err.message, /namespace "Bad_NS" must be a DNS label/);
      return true;
    });
  });

  it('Citadel unreachable at start-up: retried, then UNAVAILABLE after the start-up timeout', async () => {
    const tokenPath = await writeToken(path.join(dir, 'ca'), dir, 'payments', 'ledger');
    const port = await freePort('127.0.0.1');
    const opts = options(tokenPath, { caAddress: `127.0.0.1:${port}`, startupTimeoutMs: 1500, requestTimeoutMs: 500 });
    await assert.rejects(startNodeAgent(opts), (err: Error) => {
      assert.ok(agentErrors.is(err, 'AGENT_CA_UNAVAILABLE'), String(err));
      assert.ok(err.message.includes(`127.0.0.1:${port}`));
      return true;
    });
    assert.ok(opts.lines.some((l) => l.includes('first certificate request failed; retrying')), 'retried before giving up');
  });

  it('reads the token file on every renewal: a bad token there is refused, the old certificate kept, a good one works again', async () => {
    const tokenDir = path.join(dir, 'rotating-token');
    mkdirSync(tokenDir);
    const tokenPath = await writeToken(path.join(dir, 'ca'), tokenDir, 'payments', 'ledger');
    const good = readFileSync(tokenPath, 'utf8');
    const opts = options(tokenPath, { rotation: { initialBackoffMs: 60_000 } });
    const agent = await startNodeAgent(opts);
    try {
      const original = agent.current().serialNumber;
      writeFileSync(tokenPath, 'expired-or-garbage\n');
      await agent.rotateNow();
      assert.equal(agent.current().serialNumber, original, 'the current certificate is kept');
      assert.match(agent.status().lastError ?? '', /refused the certificate request \(UNAUTHENTICATED\)/);
      assert.equal(agent.status().consecutiveFailures, 1);
      writeFileSync(tokenPath, good);
      await agent.rotateNow();
      assert.notEqual(agent.current().serialNumber, original);
      assert.equal(agent.status().consecutiveFailures, 0);
    } finally {
      await agent.stop();
    }
  });
});
