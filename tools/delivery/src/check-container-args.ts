/**
 * Checks that what a manifest passes to an app is something the app reads: every --flag in a container's
 * args, every leading command word, and every env variable name appear in the app's own usage text (the
 * output of `node dist/apps/<app>/main.js --help`, generated from its flags table). A typo in a Deployment
 * would otherwise only show up as a crash-looping pod.
 */
import { imageName } from './collect-images';
import { describeDoc, type ManifestDoc } from './loader-manifests';
import type { Problem } from './problem';
import type { AppDelivery } from './spec-delivery';

export interface AppUsage {
  flags: Set<string>;
  envs: Set<string>;
  commands: Set<string>;
}

/** Reads flags ("  --name"), env names ("env NAME") and commands ("[serve|issue-token]") from a usage text. */
export function parseUsage(text: string): AppUsage {
  const flags = new Set([...text.matchAll(/^\s+--([a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]));
  const envs = new Set([...text.matchAll(/\benv ([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]));
  const first = text.split('\n')[0];
  const cmd = /\[([a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)+)\]/.exec(first) ?? /\s([a-z][a-z0-9-]*)\s+\[flags\]/.exec(first);
  const commands = new Set(cmd ? cmd[1].split('|') : []);
  return { flags, envs, commands };
}

type Obj = Record<string, unknown>;

export function checkContainerArgs(docs: readonly ManifestDoc[], apps: readonly AppDelivery[], usageOf: (app: string) => AppUsage): Problem[] {
  const problems: Problem[] = [];
  const visit = (node: unknown, path: string, doc: ManifestDoc): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => visit(n, `${path}[${i}]`, doc));
    if (node === null || typeof node !== 'object') return;
    const o = node as Obj;
    const app = typeof o.image === 'string' ? apps.find((a) => a.image === imageName(o.image as string)) : undefined;
    if (app && ('args' in o || 'env' in o || 'command' in o)) {
      const where = `${describeDoc(doc)} ${path}`;
      const usage = usageOf(app.app);
      if (o.command !== undefined) problems.push({ where: `${where}.command`, message: `replaces the image ENTRYPOINT (node dist/apps/${app.app}/main.js); pass args instead` });
      const args = Array.isArray(o.args) ? o.args.map(String) : [];
      args.forEach((a, i) => {
        if (a.startsWith('--')) {
          const name = a.slice(2).split('=')[0];
          if (!usage.flags.has(name)) problems.push({ where: `${where}.args[${i}]`, message: `${app.app} has no flag --${name}` });
        } else if (i === 0 && !usage.commands.has(a)) {
          problems.push({ where: `${where}.args[0]`, message: `${app.app} has no command ${JSON.stringify(a)} (commands: ${[...usage.commands].join(', ') || 'none'})` });
        }
      });
      const env = Array.isArray(o.env) ? (o.env as Obj[]) : [];
      env.forEach((e, i) => {
        const name = String(e.name);
        if (!usage.envs.has(name)) problems.push({ where: `${where}.env[${i}]`, message: `${app.app} does not read ${name}` });
      });
    }
    for (const [k, v] of Object.entries(o)) visit(v, path ? `${path}.${k}` : k, doc);
  };
  for (const d of docs) visit(d.body, '', d);
  return problems;
}
