/**
 * Local-mode bearer tokens: a JWT (HS256) naming a namespace and service account, with an expiry, signed
 * with a 256-bit key kept in <ca-dir>/token-key (created on first use, mode 0600). The CA verifies the
 * signature in constant time and maps the claims to a SPIFFE identity. Kubernetes service-account tokens
 * will be a second verifier behind the same `verify` shape.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errors } from './errors';

export const TOKEN_KEY_FILE = 'token-key';
const ISSUER = 'mesh-citadel';
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SERVICE_ACCOUNT_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface TokenClaims {
  namespace: string;
  serviceAccount: string;
  issuedAt: number;
  expiresAt: number;
}

function base64url(text: string | Buffer): string {
  return Buffer.from(text).toString('base64url');
}

/** Reads the token key, creating it (exclusively, so concurrent first runs agree) when absent. */
export async function loadOrCreateTokenKey(caDir: string): Promise<Buffer> {
  const file = path.join(caDir, TOKEN_KEY_FILE);
  try {
    await writeFile(file, randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw errors.create('CA_DIR_INVALID', { file, reason: (err as Error).message });
  }
  const key = Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
  if (key.length < 32) throw errors.create('CA_DIR_INVALID', { file, reason: 'token key must be at least 32 bytes of hex' });
  return key;
}

/** Checks namespace and service-account names as Kubernetes does; returns a message or undefined. */
export function invalidIdentityName(namespace: string, serviceAccount: string): string | undefined {
  if (!NAMESPACE_RE.test(namespace)) return `namespace "${namespace}" must be a DNS label (a-z, 0-9, '-', at most 63)`;
  if (!SERVICE_ACCOUNT_RE.test(serviceAccount)) return `service account "${serviceAccount}" must be a DNS subdomain name`;
  return undefined;
}

export function issueToken(key: Buffer, claims: { namespace: string; serviceAccount: string; ttlMs: number; now?: number }): string {
  const now = Math.floor((claims.now ?? Date.now()) / 1000);
  const payload = base64url(
    JSON.stringify({
      iss: ISSUER,
      sub: `system:serviceaccount:${claims.namespace}:${claims.serviceAccount}`,
      ns: claims.namespace,
      sa: claims.serviceAccount,
      iat: now,
      exp: now + Math.max(1, Math.round(claims.ttlMs / 1000)),
    }),
  );
  const signature = createHmac('sha256', key).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** Extracts the token from an `authorization` metadata value. */
export function bearerToken(authorization: string | undefined): string {
  if (!authorization) throw errors.create('TOKEN_MISSING', {});
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!m) throw errors.create('TOKEN_INVALID', { reason: 'authorization must be "Bearer <token>"' });
  return m[1];
}

export function verifyToken(key: Buffer, token: string, now = Date.now()): TokenClaims {
  const parts = token.split('.');
  if (parts.length !== 3) throw errors.create('TOKEN_INVALID', { reason: 'not a JWT (expected three dot-separated parts)' });
  const [header, payload, signature] = parts;
  const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (header !== HEADER || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw errors.create('TOKEN_INVALID', { reason: 'signature does not verify with this CA\'s token key' });
  }
  let claims: { iss?: unknown; ns?: unknown; sa?: unknown; iat?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw errors.create('TOKEN_INVALID', { reason: 'payload is not JSON' });
  }
  if (claims.iss !== ISSUER || typeof claims.ns !== 'string' || typeof claims.sa !== 'string' || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') {
    throw errors.create('TOKEN_INVALID', { reason: 'claims iss, ns, sa, iat and exp are required' });
  }
  if (claims.exp * 1000 <= now) throw errors.create('TOKEN_EXPIRED', { expiredAt: new Date(claims.exp * 1000).toISOString() });
  const bad = invalidIdentityName(claims.ns, claims.sa);
  if (bad) throw errors.create('TOKEN_INVALID', { reason: bad });
  return { namespace: claims.ns, serviceAccount: claims.sa, issuedAt: claims.iat * 1000, expiresAt: claims.exp * 1000 };
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}
