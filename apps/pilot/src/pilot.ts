/**
 * Pilot assembled: config dir -> store -> push manager -> ADS server, plus the debug server. Used by
 * main.ts and, in-process, by the tests.
 */
import * as fs from 'node:fs';
import { createLogger, type Logger } from '@mesh/runtime';
import { AdsServer } from '@mesh/xds';
import { ConfigDirWatcher } from './config-dir';
import { ConfigStore } from './config-store';
import { createMetrics } from './debug-metrics';
import { startDebugServer } from './debug-server';
import { errors } from './errors';
import { parseProxy } from './proxy';
import { PushManager, shortType } from './push-manager';

export interface PilotOptions {
  configDir: string;
  xdsAddress: { host: string; port: number };
  debugAddress?: { host: string; port: number };
  debounceAfterMs: number;
  debounceMaxMs: number;
  /** Streams with a push in flight at once (Istio's PILOT_PUSH_THROTTLE); default 100. */
  pushThrottle?: number;
  rescanMs: number;
  rootNamespace: string;
  domainSuffix: string;
  log?: Logger;
}

export interface RunningPilot {
  xdsPort: number;
  debugPort: number | undefined;
  ads: AdsServer;
  push: PushManager;
  store: ConfigStore;
  watcher: ConfigDirWatcher;
  stop(): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startPilot(opts: PilotOptions): Promise<RunningPilot> {
  const log = opts.log ?? createLogger('pilot', 'warn');
  try {
    if (!fs.statSync(opts.configDir).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw errors.create('CONFIG_DIR', { dir: opts.configDir, reason: (err as Error).message });
  }
  const pushThrottle = opts.pushThrottle ?? 100;
  if (!Number.isInteger(pushThrottle) || pushThrottle < 1) throw errors.create('BAD_FLAG', { flag: 'push-throttle', reason: `must be a whole number of at least 1, got ${pushThrottle}` });
  const metrics = createMetrics();
  const store = new ConfigStore();
  const watcher = new ConfigDirWatcher({ dir: opts.configDir, store, log, rescanMs: opts.rescanMs, onInvalid: (lines) => metrics.invalidConfig.inc(lines.length) });
  watcher.start();
  const ref: { push?: PushManager } = {};
  const ads = new AdsServer({
    logger: log.child({ component: 'pilot-xds' }),
    pushThrottle,
    onConnect: (node) => {
      const parsed = parseProxy(node);
      if (!parsed.ok) {
        const detail = parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        log.warn('proxy refused', { proxy: node.id, error: detail });
        throw errors.create('BAD_NODE', { detail });
      }
      return (ref.push as PushManager).connect(parsed.value);
    },
    onDisconnect: (node) => ref.push?.disconnect(node.id, ads.connectedNodeIds().includes(node.id)),
    onAck: (e) => ref.push?.acked(e.typeUrl, e.version),
    onNack: (e) => {
      metrics.pushErrors.inc({ type: shortType(e.typeUrl) });
      log.warn('proxy rejected config (NACK)', { proxy: e.nodeId, type: shortType(e.typeUrl), version: e.rejectedVersion, error: e.message });
    },
  });
  const push = new PushManager({
    store,
    ads,
    mesh: { rootNamespace: opts.rootNamespace, domainSuffix: opts.domainSuffix },
    debounceAfterMs: opts.debounceAfterMs,
    debounceMaxMs: opts.debounceMaxMs,
    log,
    metrics,
  });
  ref.push = push;
  const xds = await ads.listen(hostPort(opts.xdsAddress.host, opts.xdsAddress.port)).catch((err: Error) => {
    watcher.stop();
    throw errors.create('LISTEN', { what: 'xDS', address: hostPort(opts.xdsAddress.host, opts.xdsAddress.port), reason: err.message });
  });
  let debug: { port: number; close(): Promise<void> } | undefined;
  if (opts.debugAddress) {
    const addr = opts.debugAddress;
    debug = await startDebugServer(addr.host, addr.port, { ads, push, store, metrics, log, ready: () => true }).catch(async (err: Error) => {
      watcher.stop();
      await xds.close();
      throw errors.create('LISTEN', { what: 'debug', address: hostPort(addr.host, addr.port), reason: err.message });
    });
  }
  return {
    xdsPort: xds.port,
    debugPort: debug?.port,
    ads,
    push,
    store,
    watcher,
    async stop() {
      watcher.stop();
      push.stop();
      await debug?.close();
      await xds.close();
    },
  };
}
