// The architecture's import rules are enforced by lint, not by convention: these fixtures must be
// rejected by the same ESLint config `nx run-many -t lint` uses, and the real project graph must have no
// app-to-app edge.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';

const root = resolve(__dirname, '../..');
const RULE = '@nx/enforce-module-boundaries';

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root });
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  assert.ok(result, 'eslint returned no result');
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

describe('module boundaries', () => {
  it('reject the sidecar importing control-plane code', async () => {
    const errors = await boundaryErrors('apps/sidecar/src/boundary-fixture.ts', "import * as mcp from '@mesh/mcp';\nexport const x = mcp;\n");
    assert.equal(errors.length, 1, 'expected exactly one boundary error');
    assert.match(errors[0] ?? '', /scope:data-plane/);
  });

  it('reject an app importing another app', async () => {
    const errors = await boundaryErrors('apps/pilot/src/boundary-fixture.ts', "import { errors } from '../../citadel/src/errors';\nexport const x = errors;\n");
    assert.ok(errors.length >= 1, 'expected a boundary error for pilot -> citadel');
  });

  it('reject a lib importing an app', async () => {
    const errors = await boundaryErrors('libs/xds/src/boundary-fixture.ts', "import { flags } from '../../../apps/pilot/src/flags';\nexport const x = flags;\n");
    assert.ok(errors.length >= 1, 'expected a boundary error for xds -> pilot');
  });

  it('accept the sidecar importing a shared lib (the rule is not simply rejecting everything)', async () => {
    const errors = await boundaryErrors('apps/sidecar/src/boundary-fixture.ts', "import * as rt from '@mesh/runtime';\nexport const x = rt;\n");
    assert.deepEqual(errors, []);
  });

  it('the project graph has the nine projects (plus runtime) and no app-to-app edge', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mesh-graph-'));
    try {
      const file = join(dir, 'graph.json');
      const nxBin = join(root, 'node_modules/nx', (JSON.parse(readFileSync(join(root, 'node_modules/nx/package.json'), 'utf8')) as { bin: { nx: string } }).bin.nx);
      execFileSync(process.execPath, [nxBin, 'graph', `--file=${file}`], { cwd: root, stdio: 'pipe' });
      const graph = JSON.parse(readFileSync(file, 'utf8')).graph as {
        nodes: Record<string, { type: string; data?: { tags?: string[] } }>;
        dependencies: Record<string, { target: string }[]>;
      };
      for (const name of ['pilot', 'galley', 'mixer', 'citadel', 'sidecar', 'injector', 'xds', 'mcp', 'attributes']) {
        assert.ok(graph.nodes[name], `project ${name} is missing from the graph`);
      }
      // The graph must see imports through the tsconfig paths (nx.json pluginsConfig analyzeSourceFiles):
      // without edges, "no app-to-app edge" would hold trivially and build hashes would miss lib changes.
      const targets = (name: string): string[] => (graph.dependencies[name] ?? []).map((d) => d.target);
      assert.ok(targets('pilot').includes('xds') && targets('sidecar').includes('xds'), `pilot -> ${targets('pilot')}, sidecar -> ${targets('sidecar')}`);
      const apps = new Set(Object.entries(graph.nodes).filter(([, n]) => n.type === 'app').map(([k]) => k));
      // Sample applications (scope:sample, e.g. samples/bookinfo) are apps too, but not mesh components.
      assert.equal([...apps].filter((k) => !graph.nodes[k]?.data?.tags?.includes('scope:sample')).length, 6);
      for (const [source, deps] of Object.entries(graph.dependencies)) {
        for (const dep of deps) {
          assert.ok(!(apps.has(source) && apps.has(dep.target)), `app-to-app edge ${source} -> ${dep.target}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
