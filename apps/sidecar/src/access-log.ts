/**
 * JSON access log, one line per request or TCP connection, with Envoy's fields and response flags. Off by
 * default: when no path is configured the HCM never builds a record.
 */
import * as fs from 'node:fs';

export interface AccessLogRecord {
  start_time: string;
  method: string;
  path: string;
  protocol: string;
  response_code: number;
  response_flags: string;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  upstream_service_time: number;
  x_forwarded_for: string;
  user_agent: string;
  request_id: string;
  authority: string;
  upstream_host: string;
  upstream_cluster: string;
  downstream_remote_address: string;
  route_name: string;
  /** TCP: why the proxy closed the connection (Envoy's %CONNECTION_TERMINATION_DETAILS%), e.g. an RBAC denial */
  connection_termination_details?: string;
  /** TCP: the downstream's verified SPIFFE id (Envoy's %DOWNSTREAM_PEER_URI_SAN%) */
  downstream_peer_uri_san?: string;
}

export class AccessLog {
  private readonly stream: fs.WriteStream | NodeJS.WriteStream;

  constructor(path: string) {
    this.stream = path === '/dev/stdout' ? process.stdout : fs.createWriteStream(path, { flags: 'a' });
  }

  write(rec: AccessLogRecord): void {
    this.stream.write(JSON.stringify(rec) + '\n');
  }

  close(): Promise<void> {
    if (this.stream === process.stdout) return Promise.resolve();
    return new Promise((resolve) => (this.stream as fs.WriteStream).end(resolve));
  }
}
