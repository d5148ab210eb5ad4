/**
 * Validates manifests against the Kubernetes API's JSON schemas with kubernetes-validate (PyPI, maintained;
 * it bundles the schemas of each Kubernetes release), in strict mode (unknown fields are errors) for one
 * pinned version. Its exit code alone is not enough: a kind it has no schema for is only a warning (exit 0),
 * and a YAML error stops it before the remaining files. So every document must have its own "passed" line.
 */
import { execFile } from 'node:child_process';
import { relative } from 'node:path';
import { promisify } from 'node:util';
import type { ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';

const run = promisify(execFile);

export interface ValidateOptions {
  /** Path of the kubernetes-validate executable. */
  bin: string;
  kubernetesVersion: string;
  /** Directory the file names in messages are relative to. */
  baseDir: string;
  timeoutMs?: number;
}

export interface ValidateResult {
  problems: Problem[];
  /** "k8s/base/pilot.yaml deployment/istio-pilot" for every document that passed. */
  passed: string[];
}

/**
 * @param files absolute paths of the manifest files
 * @param docs the documents of those files (from loader-manifests), to know how many must pass per file
 */
export async function validateWithKubernetesSchemas(files: readonly string[], docs: readonly ManifestDoc[], opts: ValidateOptions): Promise<ValidateResult> {
  const problems: Problem[] = [];
  const passed: string[] = [];
  if (files.length === 0) return { problems, passed };
  let stdout = '';
  let stderr = '';
  try {
    ({ stdout, stderr } = await run(opts.bin, ['--kubernetes-version', opts.kubernetesVersion, '--strict', ...files], {
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    }));
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string; message: string };
    if (e.stdout === undefined) return { problems: [{ where: opts.bin, message: `could not run kubernetes-validate: ${e.message}` }], passed };
    stdout = e.stdout;
    stderr = e.stderr ?? '';
  }
  const rel = (p: string): string => relative(opts.baseDir, p);
  const passedPerFile = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    const ok = /^INFO (\S+) passed for resource (\S+) against version (\S+)$/.exec(line);
    if (ok) {
      passed.push(`${rel(ok[1])} ${ok[2]}`);
      passedPerFile.set(ok[1], (passedPerFile.get(ok[1]) ?? 0) + 1);
      continue;
    }
    const bad = /^(ERROR|WARN|FATAL) (\S+) (.*)$/.exec(line);
    if (bad) problems.push({ where: rel(bad[2]), message: `kubernetes-validate ${bad[1]}: ${bad[3]}` });
    else if (/^(ERROR|WARN|FATAL) /.test(line)) problems.push({ where: 'kubernetes-validate', message: line });
  }
  if (stderr.trim()) problems.push({ where: 'kubernetes-validate', message: stderr.trim().split('\n').slice(0, 3).join(' | ') });
  for (const f of files) {
    const expected = docs.filter((d) => d.file === rel(f)).length;
    const got = passedPerFile.get(f) ?? 0;
    if (got < expected) problems.push({ where: rel(f), message: `${expected - got} of ${expected} documents were not validated against the Kubernetes ${opts.kubernetesVersion} schemas` });
  }
  return { problems, passed };
}
