/**
 * `meshctl status`: the local mesh's components (from its topology file, each process alive or not),
 * Pilot's /ready, and every proxy connected to Pilot with its sync state per xDS type (/debug/syncz).
 * Exit 0 only when Pilot is ready, every component is up and every proxy is SYNCED.
 */
import { statusFlags } from './flags';
import { defineCommand, EXIT } from './command';
import { formatTable } from './format-table';
import { getJson, getText } from './http-json';
import { pilotUrl, readMeshState } from './mesh-state';
import { orderTypeNames, parseSyncz, syncState, type SyncState, type SyncType } from './sync-state';
import { errors } from './errors';

const DEFAULT_PILOT = 'http://127.0.0.1:15014';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface ProxyStatus {
  proxy: string;
  kind: string;
  types: Record<string, { state: SyncState; sentVersion: string; ackedVersion: string; nack?: string }>;
}

export const statusCommand = defineCommand({
  name: 'status',
  synopsis: 'status [--pilot URL] [-o table|json]',
  summary: "Components of the local mesh, Pilot's readiness, and each connected proxy's xDS sync state (SYNCED, STALE, NACKED).",
  sections: [
    'Sync states: SYNCED (the proxy acknowledged what Pilot sent last), STALE (sent but not acknowledged yet),\nNACKED (the proxy rejected the version Pilot sent last; the message says why).',
    'Exit codes: 0 everything up and SYNCED; 1 Pilot unreachable or not ready, a component down, or a proxy not SYNCED; 2 usage.',
  ],
  flags: statusFlags,
  async run(f, positionals, io) {
    if (positionals.length > 0) {
      io.err(`${errors.create('USAGE', { command: 'status', reason: `unexpected argument "${positionals[0]}"` }).message}\n`);
      return EXIT.USAGE;
    }
    const state = readMeshState(f.stateDir);
    const pilot = (f.pilot ?? pilotUrl(state) ?? DEFAULT_PILOT).replace(/\/+$/, '');
    const components = (state?.components ?? []).map((c) => ({ name: c.name, role: c.role, pid: c.pid, up: alive(c.pid) }));
    let ready = false;
    let pilotError: string | undefined;
    let proxies: ProxyStatus[] = [];
    try {
      ready = (await getText(`${pilot}/ready`, f.timeout)).status === 200;
      const body = await getJson(`${pilot}/debug/syncz`, f.timeout);
      const parsed = parseSyncz(body);
      if (!parsed) throw errors.create('BAD_RESPONSE', { url: `${pilot}/debug/syncz`, reason: 'not a list of proxies with types' });
      proxies = parsed
        .sort((a, b) => a.proxy.localeCompare(b.proxy))
        .map((p) => ({
          proxy: p.proxy,
          kind: p.kind,
          types: Object.fromEntries(
            orderTypeNames(Object.keys(p.types)).map((name) => {
              const t = p.types[name] as SyncType;
              const state = syncState(t);
              return [name, { state, sentVersion: t.sentVersion, ackedVersion: t.ackedVersion, ...(state === 'NACKED' ? { nack: t.lastNack?.message ?? '' } : {}) }];
            }),
          ),
        }));
    } catch (err) {
      pilotError = (err as Error).message;
    }
    const ok = ready && !pilotError && components.every((c) => c.up) && proxies.every((p) => Object.values(p.types).every((t) => t.state === 'SYNCED'));
    if (f.output === 'json') {
      io.out(JSON.stringify({ ok, stateFile: state?.file ?? null, components, pilot: { url: pilot, ready, ...(pilotError ? { error: pilotError } : {}) }, proxies }, null, 2) + '\n');
      return ok ? EXIT.OK : EXIT.FAILURE;
    }
    if (state) {
      io.out(`Components (${state.file}):\n`);
      io.out(formatTable(['NAME', 'ROLE', 'PID', 'STATUS'], components.map((c) => [c.name, c.role, String(c.pid ?? '-'), c.up ? 'UP' : 'DOWN'])));
      io.out('\n');
    }
    io.out(`Pilot ${pilot}: ${pilotError ? `UNREACHABLE (${pilotError})` : ready ? 'READY' : 'NOT READY'}\n`);
    if (!pilotError) {
      io.out(`\nProxies connected to Pilot: ${proxies.length}\n`);
      if (proxies.length > 0) {
        const types = orderTypeNames(proxies.flatMap((p) => Object.keys(p.types)));
        io.out(formatTable(['PROXY', 'KIND', ...types], proxies.map((p) => [p.proxy, p.kind, ...types.map((t) => p.types[t]?.state ?? '-')])));
        for (const p of proxies) {
          for (const [t, s] of Object.entries(p.types)) {
            if (s.state === 'NACKED') io.out(`  ${p.proxy} ${t} NACKED version ${s.sentVersion} (running ${s.ackedVersion || 'none'}): ${s.nack}\n`);
          }
        }
      }
    }
    return ok ? EXIT.OK : EXIT.FAILURE;
  },
});
