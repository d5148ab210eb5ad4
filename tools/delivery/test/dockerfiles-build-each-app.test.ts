// Each app's Dockerfile builds that app with Nx in a node:20 build stage and ships only the bundle and
// production node_modules, as a numeric non-root user, with the right ENTRYPOINT and ports. The checker is
// also fed broken Dockerfiles to prove each rule can fail.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { buildsApp, checkAppDockerfile, nodeImageProblem } from '../src/check-dockerfile';
import { parseDockerfile } from '../src/parser-dockerfile';
import { formatProblems } from '../src/problem';
import { APPS, paths } from '../src/spec-delivery';

const spec = (app: string) => {
  const s = APPS.find((a) => a.app === app);
  assert.ok(s, `no spec for ${app}`);
  return s;
};
const pilotText = readFileSync(paths.dockerfile('pilot'), 'utf8');
const problemsFor = (text: string, app = 'pilot') => checkAppDockerfile(text, `apps/${app}/Dockerfile`, spec(app));
/** Asserts the text is rejected with a message matching `pattern`. */
function rejects(text: string, pattern: RegExp, app = 'pilot'): void {
  const problems = problemsFor(text, app);
  assert.ok(problems.some((p) => pattern.test(p.message)), `expected a problem matching ${pattern}, got:\n${formatProblems(problems) || '(none)'}`);
}
function replaced(from: string | RegExp, to: string, text = pilotText): string {
  const out = text.replace(from, to);
  assert.notEqual(out, text, `fixture edit ${String(from)} changed nothing`);
  return out;
}

describe('the repository Dockerfiles', () => {
  for (const app of APPS) {
    test(`apps/${app.app}/Dockerfile builds ${app.app} and runs it as uid ${app.uid}`, () => {
      const text = readFileSync(paths.dockerfile(app.app), 'utf8');
      assert.equal(formatProblems(checkAppDockerfile(text, `apps/${app.app}/Dockerfile`, app)), '');
    });
  }
});

describe('broken Dockerfiles are rejected', () => {
  test('a single-stage Dockerfile (no build stage)', () => {
    const text = 'FROM node:20.20-bookworm-slim\nWORKDIR /app\nCOPY dist/apps/pilot ./dist/apps/pilot\nUSER 10001\nENTRYPOINT ["node", "dist/apps/pilot/main.js"]\n';
    rejects(text, /no build stage/);
    rejects(text, /not a multi-stage build/);
  });
  test("a build stage that builds another app", () => {
    rejects(readFileSync(paths.dockerfile('galley'), 'utf8'), /never runs "nx build pilot"/);
  });
  test('a build stage without npm ci', () => {
    rejects(replaced(/npm ci\n/, 'npm install\n'), /never runs "npm ci"/);
  });
  test('a build stage on an old Node', () => {
    rejects(replaced('ARG NODE_IMAGE=node:20.20-bookworm-slim', 'ARG NODE_IMAGE=node:20.11-bookworm-slim'), /older than Node 20\.19/);
    rejects(replaced('ARG NODE_IMAGE=node:20.20-bookworm-slim', 'ARG NODE_IMAGE=node:18-bookworm-slim'), /is Node 18/);
  });
  test('dev dependencies shipped in node_modules', () => {
    rejects(replaced('COPY --from=prod-deps /workspace/node_modules', 'COPY --from=build /workspace/node_modules'), /never runs "npm ci --omit=dev"/);
  });
  test('the bundle is not copied', () => {
    rejects(replaced(/COPY --from=build \/workspace\/dist\/apps\/pilot .*\n/, ''), /never copies dist\/apps\/pilot/);
  });
  test('running as root, by name, or as the wrong uid', () => {
    rejects(replaced('USER 10001:10001\n', ''), /no USER/);
    rejects(replaced('USER 10001:10001', 'USER 0'), /is root/);
    rejects(replaced('USER 10001:10001', 'USER mesh'), /not numeric/);
    rejects(replaced('USER 10001:10001', 'USER 1000'), /must run as uid 10001/);
    rejects(readFileSync(paths.dockerfile('pilot'), 'utf8').replace(/pilot/g, 'sidecar'), /must run as uid 1337/, 'sidecar');
  });
  test('a wrong or shell-form ENTRYPOINT, or one that misses the copied bundle', () => {
    rejects(replaced('ENTRYPOINT ["node", "dist/apps/pilot/main.js"]', 'ENTRYPOINT node dist/apps/pilot/main.js'), /exec form/);
    rejects(replaced('ENTRYPOINT ["node", "dist/apps/pilot/main.js"]', 'ENTRYPOINT ["node", "main.js"]'), /expected \["node","dist\/apps\/pilot\/main.js"\]/);
    rejects(replaced('WORKDIR /app\nCOPY --from=prod', 'WORKDIR /srv\nCOPY --from=prod').replace('./dist/apps/pilot', '/app/dist/apps/pilot'), /bundle is copied to \/app\/dist\/apps\/pilot\/main.js/);
  });
  test('missing or extra EXPOSEd ports', () => {
    rejects(replaced('EXPOSE 15010 15012 15014', 'EXPOSE 15010 15014'), /does not EXPOSE 15012/);
    rejects(replaced('EXPOSE 15010 15012 15014', 'EXPOSE 15010 15012 15014 8080'), /EXPOSEs 8080/);
  });
});

describe('Dockerfile reading', () => {
  test('continuations, comments inside them, flags, global ARGs and the exec form', () => {
    const r = parseDockerfile('# syntax=docker/dockerfile:1\nARG BASE=node:20\nFROM ${BASE} AS Build\nRUN --mount=type=cache,target=/x npm ci \\\n# a comment\n  && npx nx build pilot\nENTRYPOINT ["node", "a.js"]\n', 'f');
    assert.ok(r.ok, JSON.stringify(r));
    const [stage] = r.value.stages;
    assert.equal(r.value.directives.syntax, 'docker/dockerfile:1');
    assert.equal(stage.image, 'node:20');
    assert.equal(stage.name, 'build');
    assert.deepEqual(stage.instructions[0].flags, { mount: 'type=cache,target=/x' });
    assert.equal(stage.instructions[0].args, 'npm ci && npx nx build pilot');
    assert.equal(stage.instructions[0].line, 4);
    assert.deepEqual(stage.instructions[1].exec, ['node', 'a.js']);
  });
  test('the escape directive changes the continuation character', () => {
    const r = parseDockerfile('# escape=`\nFROM node:20 AS build\nRUN npm ci `\n  && echo ok\n', 'f');
    assert.ok(r.ok);
    assert.equal(r.value.stages[0].instructions[0].args, 'npm ci && echo ok');
  });
  test('heredocs and instructions before FROM are refused with their line', () => {
    const heredoc = parseDockerfile('FROM node:20 AS build\nRUN <<EOF\nnpm ci\nEOF\n', 'f');
    assert.ok(!heredoc.ok);
    assert.match(heredoc.errors[0].where, /^f:2$/);
    assert.match(heredoc.errors[0].message, /heredoc/);
    const early = parseDockerfile('RUN echo\nFROM node:20\n', 'f');
    assert.ok(!early.ok);
    assert.match(early.errors[0].message, /only ARG may come before the first FROM/);
  });
  test('which commands build which app, and which node images are accepted', () => {
    assert.ok(buildsApp('npx nx build pilot --outputStyle=static', 'pilot'));
    assert.ok(buildsApp('npx nx run pilot:build', 'pilot'));
    assert.ok(!buildsApp('npx nx build pilot-v2', 'pilot'));
    assert.ok(!buildsApp('npx nx build galley', 'pilot'));
    assert.equal(nodeImageProblem('node:20'), undefined);
    assert.equal(nodeImageProblem('node:20.19.0-bookworm-slim'), undefined);
    assert.match(String(nodeImageProblem('node:22-slim')), /Node 22/);
    assert.match(String(nodeImageProblem('debian:bookworm')), /not the official node image/);
  });
});
