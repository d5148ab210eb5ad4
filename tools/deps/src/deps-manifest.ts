// Where the provisioned programs live: the manifest written by tools/deps/install.sh ($DEPS_DIR/deps.json),
// with PATH lookups as the fallback. This file is the only place that reads the environment.
import type { TestContext } from 'node:test';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export type DepName =
  | 'envoy'
  | 'kafka'
  | 'redis'
  | 'prometheus'
  | 'nginx'
  | 'h2load'
  | 'wrk'
  | 'fortio'
  | 'openssl'
  | 'kubernetes-validate';

/** $MESH_DEPS_DIR or ~/.cache/mesh-deps (outside the repository). */
export const DEPS_DIR: string = process.env['MESH_DEPS_DIR'] || join(homedir(), '.cache', 'mesh-deps');

/** True under CI (CI=true): a missing dependency fails instead of skipping. */
export const IN_CI: boolean = /^(1|true|yes)$/i.test(process.env['CI'] ?? '');

/** site-packages folders of the venv install.sh creates (python3.x, whatever x is). */
function venvSitePackages(): string[] {
  const lib = join(DEPS_DIR, 'venv', 'lib');
  if (!existsSync(lib)) return [];
  return readdirSync(lib)
    .filter((name) => name.startsWith('python3'))
    .map((name) => join(lib, name, 'site-packages'));
}

const SEARCH_PATH: readonly string[] = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);

/** Executable names looked up on PATH (plus a few well-known places) when the manifest has no entry. */
const FALLBACK: Record<Exclude<DepName, 'kafka'>, { bin: string; extraDirs: string[] }> = {
  envoy: { bin: 'envoy', extraDirs: venvSitePackages().map((dir) => join(dir, 'envoy', '_bin')) },
  redis: { bin: 'redis-server', extraDirs: ['/usr/bin'] },
  prometheus: { bin: 'prometheus', extraDirs: ['/usr/bin'] },
  nginx: { bin: 'nginx', extraDirs: ['/usr/sbin'] },
  h2load: { bin: 'h2load', extraDirs: ['/usr/bin'] },
  wrk: { bin: 'wrk', extraDirs: ['/usr/bin'] },
  fortio: { bin: 'fortio', extraDirs: [join(DEPS_DIR, 'bin')] },
  openssl: { bin: 'openssl', extraDirs: ['/usr/bin'] },
  'kubernetes-validate': { bin: 'kubernetes-validate', extraDirs: [join(DEPS_DIR, 'venv', 'bin')] },
};

interface ManifestEntry {
  path: string;
  version: string;
}

let manifestCache: Partial<Record<DepName, ManifestEntry>> | undefined;

function manifest(): Partial<Record<DepName, ManifestEntry>> {
  if (manifestCache) return manifestCache;
  const file = join(DEPS_DIR, 'deps.json');
  manifestCache = {};
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { deps?: Partial<Record<DepName, ManifestEntry>> };
      manifestCache = parsed.deps ?? {};
    } catch (err) {
      throw new Error(`${file} is not valid JSON (rerun npm run deps): ${(err as Error).message}`);
    }
  }
  return manifestCache;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(bin: string, extraDirs: readonly string[]): string | undefined {
  for (const dir of [...SEARCH_PATH, ...extraDirs]) {
    const candidate = join(dir, bin);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Kafka also needs a java on PATH: without it the jars are no use. */
function kafkaHome(): string | undefined {
  if (!onPath('java', ['/usr/bin'])) return undefined;
  const home = manifest().kafka?.path;
  if (home && existsSync(join(home, '.complete'))) return home;
  return undefined;
}

/** Absolute path of the dependency's binary (for Kafka: its home, with libs/ and config/), if installed. */
export function depPath(name: DepName): string | undefined {
  if (name === 'kafka') return kafkaHome();
  const fromManifest = manifest()[name]?.path;
  if (fromManifest && isExecutable(fromManifest)) return fromManifest;
  const { bin, extraDirs } = FALLBACK[name];
  return onPath(bin, extraDirs);
}

/** The version install.sh recorded for a dependency ('unknown' when it came from PATH). */
export function depVersion(name: DepName): string {
  return manifest()[name]?.version ?? 'unknown';
}

/**
 * The dependency's path, or: locally, skips the test (saying which dependency and how to get it) and
 * returns undefined; under CI=true, throws, because CI provisions everything first.
 */
export function requireDep(t: Pick<TestContext, 'skip'>, name: DepName): string | undefined {
  const found = depPath(name);
  if (found) return found;
  const message = `missing dependency ${name}: run npm run deps`;
  if (IN_CI) throw new Error(`${message} (CI=true: a missing dependency fails the run; DEPS_DIR=${DEPS_DIR})`);
  t.skip(message);
  return undefined;
}
