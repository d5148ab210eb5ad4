/** `issue-token` and `rotate-root`: one-shot commands on --ca-dir that print their result on stdout. */
import { mkdir } from 'node:fs/promises';
import type { Flags, Logger } from '@mesh/runtime';
import type { CaKeyType } from './ca-store';
import { errors } from './errors';
import type { flags } from './flags';
import { rotateRoot } from './root-rotation';
import { invalidIdentityName, issueToken, loadOrCreateTokenKey, spiffeId } from './token';

export async function issueTokenCommand(f: Flags<typeof flags>, log: Logger, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!f.namespace) throw errors.create('ARGUMENT_INVALID', { flag: '--namespace', reason: 'is required for issue-token' });
  if (!f.serviceAccount) throw errors.create('ARGUMENT_INVALID', { flag: '--service-account', reason: 'is required for issue-token' });
  const bad = invalidIdentityName(f.namespace, f.serviceAccount);
  if (bad) throw errors.create('ARGUMENT_INVALID', { flag: '--namespace/--service-account', reason: bad });
  await mkdir(f.caDir, { recursive: true, mode: 0o700 });
  const key = await loadOrCreateTokenKey(f.caDir);
  const token = issueToken(key, { namespace: f.namespace, serviceAccount: f.serviceAccount, ttlMs: f.ttl });
  log.info('token issued', { identity: spiffeId(f.trustDomain, f.namespace, f.serviceAccount), expiresInSeconds: Math.round(f.ttl / 1000) });
  out.write(token + '\n');
}

export async function rotateRootCommand(f: Flags<typeof flags>, log: Logger, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const result = await rotateRoot(f.caDir, { trustDomain: f.trustDomain, rootTtlMs: f.selfSignedRootTtl, overlapMs: f.overlap, keyType: f.caKeyType as CaKeyType });
  log.info('root rotated; serving processes pick it up on their next CA reload check', { caDir: f.caDir, ...result });
  out.write(JSON.stringify(result) + '\n');
}
