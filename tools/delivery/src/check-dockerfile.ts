/**
 * Checks one app's Dockerfile against its row in spec-delivery.ts: a multi-stage build whose `build` stage
 * installs from the lock file and runs that app's Nx build on Node 20 (>= 20.19), and a final stage that
 * carries only the bundle and production node_modules, runs as the app's numeric non-root user, EXPOSEs the
 * app's ports and starts `node dist/apps/<app>/main.js` in exec form.
 */
import { posix } from 'node:path';
import { parseDockerfile, type Instruction, type Stage } from './parser-dockerfile';
import type { Problem } from './problem';
import { MIN_NODE, type AppDelivery } from './spec-delivery';

const NODE_IMAGE = /^(?:(?:docker\.io\/)?library\/)?node:([^@\s]+)(?:@sha256:[0-9a-f]{64})?$/;

/** Why `image` is not a Node.js image new enough for the mesh, or undefined when it is. */
export function nodeImageProblem(image: string): string | undefined {
  const m = NODE_IMAGE.exec(image);
  if (!m) return `base image ${image} is not the official node image`;
  const v = /^(\d+)(?:\.(\d+))?(?:\.\d+)?(?:-[a-z0-9.-]+)?$/.exec(m[1]);
  if (!v) return `node image tag ${m[1]} does not name a Node.js version`;
  const major = Number(v[1]);
  const minor = v[2] === undefined ? undefined : Number(v[2]);
  if (major !== MIN_NODE.major) return `node image ${image} is Node ${major}, the mesh targets Node ${MIN_NODE.major}`;
  if (minor !== undefined && minor < MIN_NODE.minor) return `node image ${image} is older than Node ${MIN_NODE.major}.${MIN_NODE.minor}`;
  return undefined;
}

function commandOf(i: Instruction): string {
  return i.exec ? i.exec.join(' ') : i.args;
}

const runs = (stage: Stage): Instruction[] => stage.instructions.filter((i) => i.keyword === 'RUN');
const isNpmCi = (cmd: string): boolean => /(^|[\s;&|(])npm\s+ci(\s|$)/.test(cmd);
const omitsDev = (cmd: string): boolean => /--omit[= ]dev\b|--production\b/.test(cmd);

/** Does this command build `app` with Nx (`nx build <app>` or `nx run <app>:build`)? */
export function buildsApp(cmd: string, app: string): boolean {
  for (const m of cmd.matchAll(/\bnx\s+(?:build\s+([a-z0-9-]+)|run\s+([a-z0-9-]+):build)(?=\s|$|;|&)/g)) {
    if ((m[1] ?? m[2]) === app) return true;
  }
  return false;
}

function findStage(stages: Stage[], ref: string): Stage | undefined {
  return /^\d+$/.test(ref) ? stages[Number(ref)] : stages.find((s) => s.name === ref.toLowerCase());
}

/** Working directory in effect before each instruction of a stage. */
function workdirs(stage: Stage): string[] {
  let wd = '/';
  return stage.instructions.map((i) => {
    const before = wd;
    if (i.keyword === 'WORKDIR') wd = posix.resolve(wd, i.args);
    return before;
  });
}

/** COPY sources and destination (exec or shell form). */
function copyParts(i: Instruction): { sources: string[]; dest: string } {
  const parts = i.exec ?? i.args.split(/\s+/).filter(Boolean);
  return { sources: parts.slice(0, -1), dest: parts[parts.length - 1] ?? '' };
}

const stripSlash = (p: string): string => p.replace(/\/+$/, '');

export function checkAppDockerfile(text: string, file: string, spec: AppDelivery): Problem[] {
  const parsed = parseDockerfile(text, file);
  if (!parsed.ok) return parsed.errors;
  const { stages } = parsed.value;
  const problems: Problem[] = [];
  const at = (line: number): string => `${file}:${line}`;
  const { app } = spec;

  const build = stages.find((s) => s.name === 'build');
  const final = stages[stages.length - 1];
  if (!build) {
    problems.push({ where: at(stages[0].line), message: 'no build stage: expected "FROM node:20... AS build" running the Nx build' });
  } else {
    const nodeProblem = nodeImageProblem(build.image);
    if (nodeProblem) problems.push({ where: at(build.line), message: `build stage: ${nodeProblem}` });
    const cmds = runs(build);
    const ci = cmds.findIndex((r) => isNpmCi(commandOf(r)) && !omitsDev(commandOf(r)));
    const nx = cmds.findIndex((r) => buildsApp(commandOf(r), app));
    if (ci < 0) problems.push({ where: at(build.line), message: 'build stage never runs "npm ci" (install exactly what package-lock.json says, dev tools included)' });
    if (nx < 0) problems.push({ where: at(build.line), message: `build stage never runs "nx build ${app}"` });
    else if (ci > nx) problems.push({ where: at(cmds[nx].line), message: `"nx build ${app}" runs before "npm ci"` });
  }
  if (final === build || stages.length < 2) {
    problems.push({ where: at(final.line), message: 'not a multi-stage build: the image that ships must not be the build stage' });
    return problems;
  }

  const nodeProblem = nodeImageProblem(final.image);
  if (nodeProblem) problems.push({ where: at(final.line), message: `final stage: ${nodeProblem}` });
  const wds = workdirs(final);
  let distDir: string | undefined;
  let nodeModules = false;
  final.instructions.forEach((i, n) => {
    if (i.keyword !== 'COPY' && i.keyword !== 'ADD') return;
    const { sources, dest } = copyParts(i);
    const from = i.flags.from;
    if (from === undefined) {
      problems.push({ where: at(i.line), message: `final stage copies from the build context (${i.args}); it should carry only build output` });
      return;
    }
    const source = findStage(stages, from);
    if (!source) {
      problems.push({ where: at(i.line), message: `COPY --from=${from} names no stage of this Dockerfile` });
      return;
    }
    for (const src of sources.map(stripSlash)) {
      if (src.endsWith(`dist/apps/${app}`)) distDir = posix.resolve(wds[n], dest);
      if (src.endsWith('node_modules')) {
        if (runs(source).some((r) => isNpmCi(commandOf(r)) && omitsDev(commandOf(r)))) nodeModules = true;
        else problems.push({ where: at(i.line), message: `node_modules comes from stage ${from}, which never runs "npm ci --omit=dev": dev dependencies would ship` });
      }
    }
  });
  if (distDir === undefined) problems.push({ where: at(final.line), message: `final stage never copies dist/apps/${app} from the build stage` });
  if (!nodeModules && !problems.some((p) => p.message.includes('node_modules'))) {
    problems.push({ where: at(final.line), message: 'final stage never copies production node_modules (from a stage running "npm ci --omit=dev")' });
  }

  const users = final.instructions.filter((i) => i.keyword === 'USER');
  const user = users[users.length - 1];
  if (!user) {
    problems.push({ where: at(final.line), message: 'final stage has no USER: the app would run as root' });
  } else {
    const m = /^(\d+)(?::(\d+))?$/.exec(user.args);
    if (!m) problems.push({ where: at(user.line), message: `USER ${user.args} is not numeric (uid[:gid]); Kubernetes runAsNonRoot can only verify numeric users` });
    else if (Number(m[1]) === 0 || m[2] === '0') problems.push({ where: at(user.line), message: `USER ${user.args} is root` });
    else if (Number(m[1]) !== spec.uid) problems.push({ where: at(user.line), message: `USER ${user.args}: ${app} must run as uid ${spec.uid}` });
  }

  const entrypoints = final.instructions.map((i, n) => ({ i, n })).filter(({ i }) => i.keyword === 'ENTRYPOINT');
  const last = entrypoints[entrypoints.length - 1];
  const expected = ['node', `dist/apps/${app}/main.js`];
  if (!last) {
    problems.push({ where: at(final.line), message: `final stage has no ENTRYPOINT ${JSON.stringify(expected)}` });
  } else if (!last.i.exec) {
    problems.push({ where: at(last.i.line), message: `ENTRYPOINT must use the exec form ${JSON.stringify(expected)} so node is PID 1 and receives SIGTERM` });
  } else if (JSON.stringify(last.i.exec) !== JSON.stringify(expected)) {
    problems.push({ where: at(last.i.line), message: `ENTRYPOINT ${JSON.stringify(last.i.exec)}, expected ${JSON.stringify(expected)}` });
  } else if (distDir !== undefined) {
    const main = posix.resolve(wds[last.n], expected[1]);
    if (main !== posix.join(distDir, 'main.js')) {
      problems.push({ where: at(last.i.line), message: `ENTRYPOINT runs ${main}, but the bundle is copied to ${posix.join(distDir, 'main.js')}` });
    }
  }

  const exposed = new Set(
    final.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => p.replace(/\/tcp$/, ''))),
  );
  const wanted = new Set(spec.ports.map((p) => String(p.containerPort)));
  for (const p of wanted) if (!exposed.has(p)) problems.push({ where: at(final.line), message: `final stage does not EXPOSE ${p}` });
  for (const p of exposed) if (!wanted.has(p)) problems.push({ where: at(final.line), message: `final stage EXPOSEs ${p}, which ${app} does not serve` });
  return problems;
}
