/**
 * Calls from one Bookinfo service to another: GET a JSON document from one of the upstream's addresses
 * (taken in turn), with the propagated headers, a per-attempt timeout and a number of retries. Any
 * failure (connect error, timeout, non-2xx status, bad JSON) becomes MESH_ERR_BOOKINFO_UPSTREAM_FAILED
 * naming the service, the URL and the reason.
 */
import { Agent, request, type OutgoingHttpHeaders } from 'node:http';
import { errors } from './errors';

export interface UpstreamOptions {
  /** Service name, for errors and logs. */
  service: string;
  /** host:port of each address, used in turn (a Kubernetes Service's spread, without a mesh). */
  addresses: readonly string[];
  timeoutMs: number;
  retries: number;
  /** Host header of every call (e.g. `reviews:9080` for a sidecar that routes by authority); default: the address. */
  host?: string;
}

export interface UpstreamReply<T> {
  status: number;
  body: T;
}

export class Upstream {
  private next = 0;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(readonly options: UpstreamOptions) {
    if (options.addresses.length === 0) throw new Error(`upstream ${options.service}: no address`);
  }

  async getJson<T>(path: string, headers: OutgoingHttpHeaders): Promise<UpstreamReply<T>> {
    let last: Error | undefined;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      const address = this.options.addresses[this.next++ % this.options.addresses.length];
      try {
        return await this.once<T>(`http://${address}${path}`, headers);
      } catch (err) {
        last = err as Error;
      }
    }
    throw last;
  }

  close(): void {
    this.agent.destroy();
  }

  private once<T>(url: string, headers: OutgoingHttpHeaders): Promise<UpstreamReply<T>> {
    const fail = (reason: string) => errors.create('UPSTREAM_FAILED', { service: this.options.service, url, reason });
    return new Promise((resolve, reject) => {
      const all: OutgoingHttpHeaders = { accept: 'application/json', ...headers };
      if (this.options.host) all.host = this.options.host;
      const req = request(url, { method: 'GET', headers: all, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(fail(err.message)));
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(fail(`status ${status}${text ? `: ${text.slice(0, 200)}` : ''}`));
            return;
          }
          try {
            resolve({ status, body: JSON.parse(text) as T });
          } catch {
            reject(fail('response is not JSON'));
          }
        });
      });
      const timer = setTimeout(() => req.destroy(fail(`no response within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err instanceof Error && 'code' in err && String(err.code).startsWith('MESH_ERR') ? err : fail(err.message));
      });
      req.end();
    });
  }
}
