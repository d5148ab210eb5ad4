/**
 * HTTP/1.1 upstream pool: one keep-alive Agent per endpoint, sockets capped by the cluster's
 * max_connections breaker; a connect timeout on each new socket (Envoy's connect_timeout).
 */
import * as http from 'node:http';
import * as net from 'node:net';

export class Http1Pool {
  readonly agent: http.Agent;

  constructor(maxConnections: number, connectTimeoutMs: number, idleTimeoutMs: number) {
    const agent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: 1000,
      maxSockets: Math.min(maxConnections, 1_000_000),
      maxFreeSockets: Math.min(maxConnections, 1024),
      timeout: idleTimeoutMs,
      scheduling: 'lifo',
    });
    // The connect timeout covers only the TCP handshake; it is cleared once connected.
    const create = agent.createConnection.bind(agent);
    agent.createConnection = ((options: net.NetConnectOpts, cb?: (err: Error | null, s: import('node:stream').Duplex) => void) => {
      const socket = create({ ...(options as http.ClientRequestArgs), noDelay: true } as http.ClientRequestArgs, cb) as net.Socket;
      if (socket && socket.connecting) {
        socket.setTimeout(connectTimeoutMs, onConnectTimeout);
        socket.once('connect', clearConnectTimeout);
      }
      return socket;
    }) as typeof agent.createConnection;
    this.agent = agent;
  }

  /** Sockets open to this endpoint (busy + idle). */
  connections(): number {
    let n = 0;
    for (const list of Object.values(this.agent.sockets)) n += list?.length ?? 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  /** Requests waiting for a socket. */
  pending(): number {
    let n = 0;
    for (const list of Object.values(this.agent.requests)) n += list?.length ?? 0;
    return n;
  }

  destroy(): void {
    this.agent.destroy();
  }
}

function onConnectTimeout(this: net.Socket): void {
  const err = Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT_CONNECT' });
  this.destroy(err);
}

function clearConnectTimeout(this: net.Socket): void {
  this.setTimeout(0);
}
