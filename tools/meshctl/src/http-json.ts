/** GET a URL and parse its JSON body, with a time limit; errors name the URL. */
import { errors } from './errors';

export async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await getText(url, timeoutMs);
  if (res.status !== 200) throw errors.create('BAD_RESPONSE', { url, reason: `HTTP ${res.status}: ${res.body.slice(0, 200)}` });
  try {
    return JSON.parse(res.body);
  } catch (err) {
    throw errors.create('BAD_RESPONSE', { url, reason: `not JSON: ${(err as Error).message}` });
  }
}

export async function getText(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw errors.create('UNREACHABLE', { url, reason: e.cause?.message ?? e.message });
  }
}
