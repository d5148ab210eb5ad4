// Each app image, assembled from its Dockerfile without Docker (replay-image.ts: the real `npm ci --omit=dev`
// of the prod-deps stage, the Nx bundle, the final stage's COPYs and WORKDIR), starts its ENTRYPOINT as the
// image's user and prints its usage: the bundle needs nothing the image lacks (no dev dependency, no
// workspace folder, no file outside dist/apps/<app>). One production install is shared by all six apps.
// The bundle is dist/apps/<app> as `npm test` builds it (Nx runs every build first); when it is missing it is
// built with tools/build-app.mjs, when it is stale (tests run by hand after an edit) rebuild it first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseDockerfile } from '../src/parser-dockerfile';
import { replayImage, type ReplayedImage } from '../src/replay-image';
import { APPS, paths, REPO_ROOT } from '../src/spec-delivery';

const scratch = mkdtempSync(join(tmpdir(), 'mesh-image-'));
chmodSync(scratch, 0o755); // the images' users (10001, 1337) must reach their files
const stageCache = new Map<string, string>();
after(() => rmSync(scratch, { recursive: true, force: true }));

function ancestorsWithNodeModules(dir: string): string[] {
  const found: string[] = [];
  for (let d = dirname(dir); d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'node_modules'))) found.push(d);
  if (existsSync('/node_modules')) found.push('/');
  return found;
}

function run(image: ReplayedImage, args: string[]) {
  const [cmd, ...rest] = image.entrypoint;
  assert.equal(cmd, 'node');
  const asUser = image.user && process.getuid?.() === 0 ? { uid: image.user.uid, gid: image.user.gid } : {};
  return spawnSync(process.execPath, [...rest, ...args], {
    cwd: join(image.root, image.workdir),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', ...image.env },
    encoding: 'utf8',
    timeout: 30_000,
    ...asUser,
  });
}

describe('app images assembled from their Dockerfiles', { timeout: 240_000 }, () => {
  test('the scratch directory has no node_modules above it (resolution cannot escape the image)', () => {
    assert.deepEqual(ancestorsWithNodeModules(scratch), []);
  });
  for (const app of APPS) {
    test(`mesh/${app.app}: ${app.app} starts from the image and prints its usage`, () => {
      const parsed = parseDockerfile(readFileSync(paths.dockerfile(app.app), 'utf8'), `apps/${app.app}/Dockerfile`);
      assert.ok(parsed.ok, JSON.stringify(parsed));
      const image = replayImage({
        dockerfile: parsed.value,
        app: app.app,
        repoRoot: REPO_ROOT,
        scratch: join(scratch, app.app),
        stageCache,
        env: { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
      });
      assert.deepEqual(image.user, { uid: app.uid, gid: app.uid });
      const root = join(image.root, image.workdir);
      assert.ok(existsSync(join(root, 'node_modules', '@grpc', 'grpc-js')), 'production dependencies installed');
      assert.ok(!existsSync(join(root, 'node_modules', 'typescript')), 'a dev dependency was installed');
      assert.ok(!existsSync(join(root, 'node_modules', '@mesh')), 'workspace links in the image');
      const r = run(image, ['--help']);
      assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: node dist/apps/${app.app}/main\\.js`));
      assert.doesNotMatch(r.stderr, /Cannot find module/);
    });
  }

  test('an image whose node_modules the bundle cannot reach fails to start (the check can fail)', () => {
    const text = readFileSync(paths.dockerfile('citadel'), 'utf8').replace('./node_modules', '/srv/node_modules');
    const parsed = parseDockerfile(text, 'broken/Dockerfile');
    assert.ok(parsed.ok);
    const image = replayImage({ dockerfile: parsed.value, app: 'citadel', repoRoot: REPO_ROOT, scratch: join(scratch, 'broken'), stageCache });
    const r = run(image, ['--help']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Cannot find module/);
  });
});
