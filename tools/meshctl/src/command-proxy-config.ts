/**
 * `meshctl proxy-config listeners|routes|clusters|endpoints <proxy>`: a table of what one proxy runs,
 * from its admin /config_dump. <proxy> is an admin address (host:port or URL), a component name of the
 * local mesh or an Istio proxy id (both looked up in the topology file).
 */
import { proxyConfigFlags } from './flags';
import { defineCommand, EXIT } from './command';
import { CONFIG_KINDS, dumpRows, HEADERS, type ConfigKind } from './config-dump';
import { errors } from './errors';
import { formatTable } from './format-table';
import { getJson } from './http-json';
import { readMeshState, resolveProxyAdmin } from './mesh-state';

export const proxyConfigCommand = defineCommand({
  name: 'proxy-config',
  synopsis: 'proxy-config listeners|routes|clusters|endpoints <proxy> [-o table|json]',
  summary: "What one proxy (Envoy or the mesh sidecar) runs, as a table from its admin /config_dump.",
  sections: [
    '<proxy>: its admin address (127.0.0.1:15000 or http://...), or a component name / proxy id of the local mesh\n(sidecar-reviews-v1, sidecar~127.0.0.1~reviews-v1.default~default.svc.cluster.local), found in <state-dir>/topology.json.',
    'Exit codes: 0 shown; 1 the proxy is unreachable or answered badly, or a shown resource has a rejected update; 2 usage.',
  ],
  flags: proxyConfigFlags,
  async run(f, positionals, io) {
    const [kind, proxy, extra] = positionals;
    const usage = (reason: string): number => {
      io.err(`${errors.create('USAGE', { command: 'proxy-config', reason }).message}\nRun "meshctl proxy-config --help" for usage.\n`);
      return EXIT.USAGE;
    };
    if (!kind || !CONFIG_KINDS.includes(kind as ConfigKind)) return usage(`the first argument must be one of ${CONFIG_KINDS.join(', ')}${kind ? `, not "${kind}"` : ''}`);
    if (!proxy) return usage('which proxy? give its admin address, component name or proxy id');
    if (extra !== undefined) return usage(`unexpected argument "${extra}"`);
    const admin = resolveProxyAdmin(proxy, readMeshState(f.stateDir));
    const dump = await getJson(`${admin}/config_dump?include_eds`, f.timeout);
    const rows = dumpRows(dump, kind as ConfigKind);
    const rejected = rows.filter((r) => r.error !== undefined);
    if (f.output === 'json') {
      io.out(JSON.stringify({ proxy, admin, kind, items: rows.map((r) => ({ ...Object.fromEntries(HEADERS[kind as ConfigKind].map((h, i) => [h.toLowerCase().replace(/ /g, '_'), r.cells[i] ?? ''])), ...(r.error ? { error: r.error } : {}), resource: r.resource })) }, null, 2) + '\n');
    } else {
      io.out(formatTable(HEADERS[kind as ConfigKind], rows.map((r) => r.cells)));
      for (const r of rejected) io.out(`  ${r.cells[0]}: last update rejected: ${r.error}\n`);
    }
    return rejected.length > 0 ? EXIT.FAILURE : EXIT.OK;
  },
});
