import type * as net from 'node:net';

/**
 * Binds a listener's server and resolves with the bound port. Not exclusive: under node:cluster the workers
 * share one handle, so each worker's listener accepts from the same socket.
 */
export function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: false }, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}
