/**
 * Assembles an app image's final filesystem without a Docker engine, by replaying its Dockerfile on a temp
 * directory: the production-dependency stage is replayed for real (its COPYs from the build context and its
 * `npm ci` commands, run in the stage's WORKDIR), the build stage's output is taken from dist/apps/<app>
 * (what `nx build <app>` produced; rebuilt with tools/build-app.mjs when missing), and the final stage's COPYs,
 * WORKDIR, ENV, USER and ENTRYPOINT are applied. RUN commands other than `npm ci` (creating users, ...) only
 * make sense inside the image and are listed as skipped, never run on the host. Directories copied from
 * a stage shared between apps are symlinked rather than copied (same content, no per-app node_modules).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { Dockerfile, Instruction, Stage } from './parser-dockerfile';

export interface ReplayedImage {
  /** Host directory standing for the final stage's filesystem root. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user?: { uid: number; gid: number };
  entrypoint: string[];
  /** Instructions that were not replayed, "stage:line KEYWORD args". */
  skipped: string[];
}

export interface ReplayOptions {
  dockerfile: Dockerfile;
  app: string;
  repoRoot: string;
  /** Empty directory to assemble the stages in. */
  scratch: string;
  /** Extra environment for replayed commands (e.g. npm_config_prefer_offline). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /**
   * Replayed stages by content, shared between calls: apps whose prod-deps stages are identical install
   * their production dependencies once.
   */
  stageCache?: Map<string, string>;
}

const copyArgs = (i: Instruction): { sources: string[]; dest: string } => {
  const parts = i.exec ?? i.args.split(/\s+/).filter(Boolean);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] ?? '' };
};

function parseEnv(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  const pairs = args.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S*)/g);
  if (pairs) for (const p of pairs) out[p.slice(0, p.indexOf('='))] = p.slice(p.indexOf('=') + 1).replace(/^"(.*)"$/, '$1');
  else {
    const m = /^(\S+)\s+(.*)$/.exec(args);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** Host path of `containerPath` (absolute) inside a stage rooted at `root`. */
const onHost = (root: string, containerPath: string): string => join(root, containerPath);

export function replayImage(opts: ReplayOptions): ReplayedImage {
  const { dockerfile, app, repoRoot, scratch } = opts;
  const stageRoots = new Map<Stage, string>();
  const skipped: string[] = [];

  const stageRoot = (stage: Stage): string => {
    const known = stageRoots.get(stage);
    if (known) return known;
    const root = join(scratch, `stage-${stage.index}-${stage.name ?? 'final'}`);
    mkdirSync(root, { recursive: true });
    stageRoots.set(stage, root);
    if (stage.name === 'build') {
      // The build stage's product: the Nx build output of this app.
      const dist = join(repoRoot, 'dist', 'apps', app);
      if (!existsSync(join(dist, 'main.js'))) execFileSync(process.execPath, [join(repoRoot, 'tools', 'build-app.mjs'), `apps/${app}`], { cwd: repoRoot, stdio: 'pipe' });
      let wd = '/';
      for (const i of stage.instructions) if (i.keyword === 'WORKDIR') wd = posix.resolve(wd, i.args);
      cpSync(dist, onHost(root, posix.join(wd, 'dist', 'apps', app)), { recursive: true });
      return root;
    }
    const key = JSON.stringify(stage.instructions.map((i) => [i.keyword, i.flags, i.args]));
    const cached = stage !== dockerfile.stages[dockerfile.stages.length - 1] ? opts.stageCache?.get(key) : undefined;
    if (cached) {
      stageRoots.set(stage, cached);
      return cached;
    }
    replayStage(stage, root);
    if (stage !== dockerfile.stages[dockerfile.stages.length - 1]) opts.stageCache?.set(key, root);
    return root;
  };

  const fromStage = (ref: string): Stage => {
    const s = /^\d+$/.test(ref) ? dockerfile.stages[Number(ref)] : dockerfile.stages.find((x) => x.name === ref.toLowerCase());
    if (!s) throw new Error(`COPY --from=${ref}: no such stage`);
    return s;
  };

  let final: Omit<ReplayedImage, 'root' | 'skipped'> = { workdir: '/', env: {}, entrypoint: [] };
  function replayStage(stage: Stage, root: string): void {
    let wd = '/';
    const env: Record<string, string> = {};
    let user: ReplayedImage['user'];
    let entrypoint: string[] = [];
    for (const i of stage.instructions) {
      const label = `${stage.name ?? stage.index}:${i.line} ${i.keyword} ${i.args}`;
      switch (i.keyword) {
        case 'WORKDIR':
          wd = posix.resolve(wd, i.args);
          mkdirSync(onHost(root, wd), { recursive: true });
          break;
        case 'ENV':
          Object.assign(env, parseEnv(i.args));
          break;
        case 'COPY': {
          const { sources, dest } = copyArgs(i);
          const target = posix.resolve(wd, dest);
          const fromRoot = i.flags.from ? stageRoot(fromStage(i.flags.from)) : repoRoot;
          for (const src of sources) {
            const from = i.flags.from ? onHost(fromRoot, posix.resolve('/', src)) : join(repoRoot, src);
            if (src === '.' || src === './') {
              skipped.push(`${label} (the whole build context)`);
              continue;
            }
            const into = dest.endsWith('/') ? onHost(root, posix.join(target, posix.basename(src))) : onHost(root, target);
            const shared = i.flags.from !== undefined && [...(opts.stageCache?.values() ?? [])].includes(fromRoot);
            if (shared && statSync(from).isDirectory() && !existsSync(into)) {
              // A directory from a stage shared between apps (node_modules) is linked, not copied: same
              // content, no per-app copy. (Not for the bundle: Node would resolve its requires from the link's
              // target, outside the image.)
              mkdirSync(dirname(into), { recursive: true });
              symlinkSync(from, into, 'dir');
            } else {
              cpSync(from, into, { recursive: true });
            }
          }
          break;
        }
        case 'RUN': {
          const cmd = i.exec ? i.exec.join(' ') : i.args;
          if (!/^npm\s+ci(\s|$)/.test(cmd)) {
            skipped.push(label);
            break;
          }
          const r = spawnSync('sh', ['-c', cmd], {
            cwd: onHost(root, wd),
            env: { ...process.env, ...env, ...opts.env },
            encoding: 'utf8',
            timeout: opts.timeoutMs ?? 120_000,
          });
          if (r.status !== 0) throw new Error(`${label} failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout).slice(-2000)}`);
          break;
        }
        case 'USER': {
          const m = /^(\d+)(?::(\d+))?$/.exec(i.args);
          user = m ? { uid: Number(m[1]), gid: Number(m[2] ?? m[1]) } : undefined;
          break;
        }
        case 'ENTRYPOINT':
          entrypoint = i.exec ?? ['sh', '-c', i.args];
          break;
        case 'ARG':
        case 'LABEL':
        case 'EXPOSE':
          break;
        default:
          skipped.push(label);
      }
    }
    final = { workdir: wd, env, user, entrypoint };
  }

  const last = dockerfile.stages[dockerfile.stages.length - 1];
  const root = stageRoot(last);
  return { root, skipped, ...final };
}
