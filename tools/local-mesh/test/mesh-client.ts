/** What the end-to-end test does as a user: GET pages through the gateway, run the real meshctl binary, read sidecar metrics. */
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { ROOT } from './helpers';

export interface Page {
  status: number;
  text: string;
  ms: number;
}

export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Page> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** POST /login as productpage's form does; returns the `cookie` header a browser would send afterwards. */
export function login(pageUrl: string, user: string): Promise<string> {
  const body = `username=${encodeURIComponent(user)}`;
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) };
    const req = request(pageUrl.replace(/\/productpage$/, '/login'), { method: 'POST', agent: false, headers, timeout: 20_000 }, (res) => {
      res.resume();
      const cookie = (res.headers['set-cookie'] ?? [])[0]?.split(';')[0];
      if (res.statusCode !== 302 || !cookie) reject(new Error(`login as ${user}: status ${res.statusCode}, set-cookie ${cookie}`));
      else resolve(cookie);
    });
    req.on('timeout', () => req.destroy(new Error('POST /login: no answer within 20 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The reviews version that served a product page (the page prints it), or undefined (reviews failed). */
export function reviewsVersion(page: Page): string | undefined {
  return /<span class="version">(v\d)<\/span>/.exec(page.text)?.[1];
}

/** The real meshctl binary (tools/meshctl/bin/meshctl.js), as a user runs it. */
export function meshctl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'tools/meshctl/bin/meshctl.js'), ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/**
 * Repeats `probe` until `ok` holds for its result: a pushed config reaches the proxies a moment after
 * meshctl wrote it. Bounded by count and time; returns the last result either way (the caller asserts).
 */
export async function eventually<T>(probe: () => Promise<T>, ok: (t: T) => boolean, tries: number, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  let last = await probe();
  for (let i = 1; i < tries && !ok(last) && Date.now() < deadline; i++) {
    await new Promise((r) => setTimeout(r, 250));
    last = await probe();
  }
  return last;
}

/** Sum of istio_requests_total samples of a sidecar whose labels include every `want` pair. */
export async function requestsTotal(adminUrl: string, want: Record<string, string>): Promise<number> {
  const { text } = await get(`${adminUrl}/stats/prometheus`);
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('istio_requests_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels = ',' + line.slice('istio_requests_total{'.length, close);
    if (Object.entries(want).every(([k, v]) => labels.includes(`,${k}="${v}"`))) sum += Number(line.slice(close + 1).trim());
  }
  return sum;
}
