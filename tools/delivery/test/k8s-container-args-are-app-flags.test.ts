// The args and env the manifests give each app are ones the app reads, checked against the app's own usage
// (`node dist/apps/<app>/main.js --help`, generated from its flags table). Typos are rejected.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkContainerArgs, parseUsage, type AppUsage } from '../src/check-container-args';
import type { ManifestDoc } from '../src/loader-manifests';
import { formatProblems } from '../src/problem';
import { loadRepoDelivery } from '../src/repo-delivery';
import { APPS, REPO_ROOT } from '../src/spec-delivery';

const repo = loadRepoDelivery();
const usages = new Map<string, AppUsage>();
function usageOf(app: string): AppUsage {
  const known = usages.get(app);
  if (known) return known;
  const main = join(REPO_ROOT, 'dist', 'apps', app, 'main.js');
  if (!existsSync(main)) execFileSync(process.execPath, [join(REPO_ROOT, 'tools', 'build-app.mjs'), `apps/${app}`], { cwd: REPO_ROOT, stdio: 'pipe' });
  const usage = parseUsage(execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8', timeout: 30_000 }));
  usages.set(app, usage);
  return usage;
}

function mutated(kind: string, name: string, change: (body: any) => void): ManifestDoc[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  const docs = structuredClone(repo.apiDocs);
  const doc = docs.find((d) => d.body.kind === kind && (d.body.metadata as { name?: string }).name === name);
  assert.ok(doc, `no ${kind} ${name}`);
  change(doc.body);
  return docs;
}

test('every arg and env variable in k8s/ is read by the app it is given to', () => {
  assert.equal(formatProblems(checkContainerArgs(repo.apiDocs, APPS, usageOf)), '');
  // The check has something to check: the wired apps pass flags and env.
  assert.ok(usageOf('pilot').flags.has('config-dir'));
  assert.ok(usageOf('sidecar').envs.has('PILOT_ADDRESS'));
  assert.ok(usageOf('citadel').commands.has('serve'));
});

describe('the args checker rejects', () => {
  test('a misspelt flag', () => {
    const docs = mutated('Deployment', 'istio-pilot', (b) => (b.spec.template.spec.containers[0].args[1] = '--xds-adress=0.0.0.0:15010'));
    assert.match(formatProblems(checkContainerArgs(docs, APPS, usageOf)), /containers\[0\]\.args\[1\]: pilot has no flag --xds-adress/);
  });
  test('an unknown command and a command that replaces the entrypoint', () => {
    const docs = mutated('Deployment', 'istio-citadel', (b) => {
      b.spec.template.spec.containers[0].args[0] = 'srve';
      b.spec.template.spec.containers[0].command = ['sh'];
    });
    const text = formatProblems(checkContainerArgs(docs, APPS, usageOf));
    assert.match(text, /citadel has no command "srve"/);
    assert.match(text, /replaces the image ENTRYPOINT/);
  });
  test('an env variable the app does not read', () => {
    const docs = mutated('PodTemplate', 'istio-sidecar-proxy', (b) => (b.template.spec.containers[0].env[0].name = 'PILOT_ADDR'));
    assert.match(formatProblems(checkContainerArgs(docs, APPS, usageOf)), /env\[0\]: sidecar does not read PILOT_ADDR/);
  });
});

test('usage texts are read for flags, env names and commands', () => {
  const u = parseUsage('Usage: node x.js [serve|issue-token] [flags]\n\nFlags:\n  --ca-dir <string>   dir (env CITADEL_CA_DIR)\n  --help   print\n');
  assert.deepEqual([...u.flags], ['ca-dir', 'help']);
  assert.deepEqual([...u.envs], ['CITADEL_CA_DIR']);
  assert.deepEqual([...u.commands], ['serve', 'issue-token']);
});
