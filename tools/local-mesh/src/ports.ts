/** Ports: pick free ones up front (so every child is told its address), and prove they are free again after a stop. */
import { createServer } from 'node:net';

/** True when nothing is bound to host:port (we can bind it ourselves). */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Waits (bounded by count and time) until every port is free; returns the ones still bound. */
export async function waitPortsFree(ports: readonly { host: string; port: number }[], timeoutMs: number): Promise<{ host: string; port: number }[]> {
  const deadline = Date.now() + timeoutMs;
  let busy = [...ports];
  for (let attempt = 0; attempt < 1000 && busy.length > 0; attempt++) {
    const checks = await Promise.all(busy.map((p) => portIsFree(p.host, p.port)));
    busy = busy.filter((_, i) => !checks[i]);
    if (busy.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return busy;
}
