/**
 * When Citadel is down at renewal time, the agent keeps its current certificate, retries with growing
 * delays, and renews as soon as Citadel is back (same CA dir, same port).
 */
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '@mesh/deps';
import { startNodeAgent, type NodeAgent } from '../src/agent';
import { ensureCitadelBuilt, recordingLogger, removeDir, startCitadel, tempDir, waitFor, writeToken, type CitadelProcess } from './agent-harness';

describe('node agent while Citadel is down', () => {
  let dir: string;
  let citadel: CitadelProcess | undefined;
  let agent: NodeAgent | undefined;

  before(async () => {
    await ensureCitadelBuilt();
    dir = tempDir();
  });

  after(async () => {
    await agent?.stop();
    await citadel?.stop();
    removeDir(dir);
  });

  it('keeps the old certificate, retries with backoff, and recovers when Citadel is back', async () => {
    const caDir = path.join(dir, 'ca');
    const port = await freePort('127.0.0.1');
    citadel = await startCitadel(caDir, port);
    const tokenPath = await writeToken(caDir, dir, 'shop', 'cart');
    const { logger, lines } = recordingLogger();
    agent = await startNodeAgent({
      identity: { namespace: 'shop', serviceAccount: 'cart' },
      caAddress: citadel.address,
      caRootCertPath: citadel.rootCertPath,
      tokenPath,
      requestTimeoutMs: 2000,
      rotation: { initialBackoffMs: 200, maxBackoffMs: 1000 },
      logger,
    });
    const original = agent.current();
    const rotations: string[] = [];
    agent.onRotate((cert) => rotations.push(cert.serialNumber));

    await citadel.stop();
    await agent.rotateNow();
    const down = await waitFor('three failed renewals', () => {
      const s = agent?.status();
      return s && s.consecutiveFailures >= 3 ? s : undefined;
    });
    assert.equal(agent.current().serialNumber, original.serialNumber, 'the current certificate is kept');
    assert.equal(rotations.length, 0);
    assert.match(down.lastError ?? '', /Citadel at 127\.0\.0\.1:\d+ could not be reached \(UNAVAILABLE\)/);
    assert.ok(down.nextAttemptAt, 'a retry is scheduled');
    const warnings = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.msg === 'certificate renewal failed; keeping the current certificate');
    assert.ok(warnings.length >= 3);
    const delays = warnings.map((w) => Number(w.retryInMs));
    // Exponential (±20% jitter): 200, 400, 800 ... capped at 1000.
    assert.ok((delays[0] ?? 0) >= 160 && (delays[0] ?? 0) <= 240, `first retry ${delays[0]} ms`);
    assert.ok((delays[2] ?? 0) >= 640, `third retry ${delays[2]} ms grows`);
    assert.ok(delays.every((d) => d <= 1200), `capped: ${delays.join(',')}`);

    citadel = await startCitadel(caDir, port);
    const serial = await waitFor('a renewal after Citadel is back', () => rotations[0], 20_000);
    assert.notEqual(serial, original.serialNumber);
    assert.equal(agent.current().serialNumber, serial);
    assert.equal(agent.status().consecutiveFailures, 0);
    assert.equal(agent.status().lastError, undefined);
  });
});
