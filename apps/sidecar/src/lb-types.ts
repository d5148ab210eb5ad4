/** What a load balancer sees of an upstream host, and the picking interface every LB implements. */
export interface Host {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** "host:port", for logs, stats and /clusters */
  readonly address: string;
  activeRequests: number;
}

export interface LoadBalancer {
  /** `hash` is set for hashing LBs when the route has a hash policy that produced a value. */
  pick(hosts: readonly Host[], hash?: number): Host | undefined;
}
