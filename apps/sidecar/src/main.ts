/**
 * The sidecar: parse flags, build the node identity, run one proxy per worker (node:cluster shares the
 * listening sockets; the first worker also serves admin), stop cleanly on SIGTERM or /quitquitquit.
 */
// First: sizes the V8 heap before anything else allocates.
import './v8-young-generation';
import cluster from 'node:cluster';
import { runApp, type Flags, type Logger } from '@mesh/runtime';
import { startNodeAgent, type NodeAgent } from './agent';
import { errors } from './errors';
import { flags, readAgentEnv, usageInfo } from './flags';
import { buildNodeIdentity, type NodeIdentity } from './node-identity';
import { Proxy } from './proxy';
import { serveSharedRateLimits } from './ratelimit-primary';
import { StatsReport } from './stats-report';
import { answerStatsRequests, relayWorkerStats } from './stats-workers';

/** The node agent (mutual TLS identity) when --ca-address is set; SDS is served by the first worker only. */
async function startAgent(f: Flags<typeof flags>, node: NodeIdentity, log: Logger, workerIndex: number): Promise<NodeAgent | undefined> {
  if (!f.caAddress) return undefined;
  const serviceAccount = f.serviceAccount ?? (typeof node.metadata.SERVICE_ACCOUNT === 'string' ? node.metadata.SERVICE_ACCOUNT : undefined);
  if (!serviceAccount) throw errors.create('AGENT_FLAGS_INVALID', { problems: '--ca-address needs --service-account (SERVICE_ACCOUNT)' });
  const caHost = f.caAddress.host.includes(':') ? `[${f.caAddress.host}]` : f.caAddress.host;
  return startNodeAgent({
    identity: { trustDomain: f.trustDomain, namespace: node.namespace, serviceAccount },
    caAddress: `${caHost}:${f.caAddress.port}`,
    caRootCertPath: f.caRootCert,
    caServerName: f.caServerName,
    tokenPath: f.tokenPath,
    validitySeconds: Math.round(f.workloadCertTtl / 1000),
    sdsSocketPath: f.sdsSocket && workerIndex === 0 ? f.sdsSocket : undefined,
    logger: log,
  });
}

void runApp({
  component: 'sidecar',
  usage: usageInfo,
  flags,
  async start({ flags: f, log }) {
    const built = buildNodeIdentity({
      nodeId: f.nodeId,
      namespace: f.namespace,
      podName: f.podName,
      instanceIp: f.instanceIp,
      serviceAccount: f.serviceAccount,
      labels: f.labels,
      interceptionMode: f.interceptionMode,
      clusterId: f.clusterId,
      env: readAgentEnv(),
    });
    if (!built.ok) throw errors.create('NODE_INVALID', { problems: built.errors.map((e) => `${e.path}: ${e.message}`).join('; ') });
    const node = built.node;
    const concurrency = f.concurrency ?? (node.type === 'router' ? 2 : 1);
    if (concurrency < 1 || concurrency > 256) throw errors.create('CONCURRENCY_INVALID', { value: concurrency });
    const xdsTarget = `${f.xdsAddress.host.includes(':') ? `[${f.xdsAddress.host}]` : f.xdsAddress.host}:${f.xdsAddress.port}`;
    const plog = log.child({ proxy: node.id });

    if (concurrency > 1 && cluster.isPrimary) {
      plog.info('starting workers', { concurrency });
      const workers = Array.from({ length: concurrency }, (_, i) => cluster.fork({ MESH_SIDECAR_WORKER: String(i) }));
      // /stats on the admin worker sums every worker's counters (stats-workers.ts)
      relayWorkerStats(workers, plog);
      serveSharedRateLimits(workers, plog); // one local rate limit bucket for all workers (ratelimit-primary.ts)
      let quitting = false;
      const stopAll = async (): Promise<void> => {
        quitting = true;
        await Promise.all(
          workers.map(
            (w) =>
              new Promise<void>((resolve) => {
                if (w.isDead()) return resolve();
                w.once('exit', () => resolve());
                w.process.kill('SIGTERM');
              }),
          ),
        );
      };
      for (const w of workers) {
        w.on('message', (m: unknown) => {
          if (m === 'quit') void stopAll().then(() => process.exit(0));
        });
        w.on('exit', (code) => {
          if (!quitting) plog.error('worker exited', { code: 'MESH_ERR_SIDECAR_WORKER_EXIT', worker: w.id, exitCode: code });
        });
      }
      return { stop: stopAll };
    }

    const workerIndex = Number(process.env.MESH_SIDECAR_WORKER ?? '0');
    const agent = await startAgent(f, node, plog, workerIndex);
    const proxy = new Proxy({
      certificates: agent,
      node,
      xdsTarget,
      admin: workerIndex === 0 ? f.adminAddress : undefined,
      drainMs: f.drainDuration,
      accessLogPath: f.accessLog,
      concurrency,
      log: concurrency > 1 ? plog.child({ worker: workerIndex }) : plog,
      onQuit: () => {
        if (process.send) process.send('quit');
        else process.exit(0);
      },
    });
    await proxy.start();
    if (concurrency > 1) {
      const report = new StatsReport({ store: proxy.store, clusters: proxy.clusters, listeners: proxy.listeners, stats: proxy.stats, xdsConnected: () => proxy.xds?.client.connected ?? false });
      answerStatsRequests(workerIndex, (kind) => (kind === 'stats' ? report.statsText() : report.prometheus()));
    }
    plog.info('sidecar started', { xds: xdsTarget, admin: proxy.admin ? `${f.adminAddress.host}:${proxy.adminPort}` : 'off', type: node.type, worker: workerIndex });
    return {
      stop: async () => {
        await proxy.stop();
        await agent?.stop();
      },
    };
  },
});
