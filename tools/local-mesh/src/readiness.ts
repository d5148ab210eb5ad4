/** Readiness checks, each bounded by a deadline: an HTTP GET answering 2xx, a TCP connect, or a log line. */
import { request } from 'node:http';
import { connect } from 'node:net';
import type { ChildLog } from './child-log';
import type { Readiness } from './component';

const POLL_MS = 150;

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpOpen(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    socket.setTimeout(2000, () => socket.destroy());
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

export function describeReadiness(r: Readiness): string {
  if ('http' in r) return `GET ${r.http} answers 2xx`;
  if ('tcp' in r) return `${r.tcp} accepts connections`;
  return `its log shows /${r.logLine}/`;
}

/**
 * Resolves true when ready, false when the deadline passes or `cancelled` resolves first (the child died).
 */
export async function waitReady(r: Readiness, log: ChildLog, timeoutMs: number, cancelled: Promise<unknown>): Promise<boolean> {
  let gaveUp = false;
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const stop = cancelled.then(() => false as const);
  const probe = async (): Promise<boolean> => {
    if ('logLine' in r) {
      await log.waitFor(new RegExp(r.logLine));
      return true;
    }
    const check = 'http' in r ? () => httpOk(r.http) : () => tcpOpen(r.tcp);
    for (let attempt = 0; attempt < 100_000 && !gaveUp && Date.now() < deadline; attempt++) {
      if (await check()) return true;
      await new Promise((res) => setTimeout(res, POLL_MS));
    }
    return false;
  };
  try {
    return await Promise.race([probe(), timeout, stop]);
  } finally {
    gaveUp = true;
    clearTimeout(timer);
  }
}
