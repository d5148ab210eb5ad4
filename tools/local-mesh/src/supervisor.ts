/**
 * The process supervisor behind `npm start`: starts each component once those it comes after are ready,
 * one process group per child with its output in <logdir>/<name>.log, then waits for a stop signal or a
 * crash. Either way every child gets SIGTERM, then SIGKILL after a grace period, and
 * the supervisor returns only when the children are gone and their ports are free again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChildLog } from './child-log';
import { startLayers, type ComponentSpec, type Topology } from './component';
import { waitPortsFree } from './ports';
import { describeReadiness, waitReady } from './readiness';
import { formatCrash, formatSummary } from './summary';

export interface SupervisorOptions {
  logDir: string;
  readyTimeoutMs: number;
  stopGraceMs: number;
  /** Extra copies of <logDir>/topology.json (e.g. a fixed path a future meshctl reads); removed again on stop. */
  stateFiles?: string[];
  /** Where human-readable progress goes (stdout in main.ts). */
  print(line: string): void;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: string;
}

export interface RunningChild {
  spec: ComponentSpec;
  child: ChildProcess;
  log: ChildLog;
  exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
}

export type Outcome =
  | { kind: 'signal'; signal: string }
  | { kind: 'crashed'; name: string; exit: ChildExit }
  | { kind: 'not-ready'; name: string; reason: string };

export const EXIT = { OK: 0, FAILURE: 1 } as const;

function alive(r: RunningChild): boolean {
  return r.exit === undefined;
}

function killGroup(r: RunningChild, signal: NodeJS.Signals): void {
  const pid = r.child.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

export class Supervisor {
  private readonly children: RunningChild[] = [];
  private stopping = false;
  /** Set once the run's end is decided (signal, crash, not ready): nothing new is started after that. */
  private decided = false;
  private resolveOutcome!: (o: Outcome) => void;
  private readonly outcome = new Promise<Outcome>((resolve) => (this.resolveOutcome = resolve));
  private readonly onExit = () => {
    for (const r of this.children) if (alive(r)) killGroup(r, 'SIGKILL');
  };

  constructor(private readonly opts: SupervisorOptions) {}

  private settle(o: Outcome): void {
    if (this.decided) return;
    this.decided = true;
    this.resolveOutcome(o);
  }

  /** Ends the run as a user asked (SIGINT/SIGTERM). A second call while stopping kills what is left at once. */
  signal(signal: string): void {
    if (this.stopping) {
      this.opts.print(`${signal} again: killing what is left now`);
      for (const r of this.children) if (alive(r)) killGroup(r, 'SIGKILL');
      return;
    }
    this.settle({ kind: 'signal', signal });
  }

  /** Runs the topology until a signal or a failure; resolves to the process exit code. */
  async run(topology: Topology): Promise<number> {
    process.on('exit', this.onExit);
    try {
      const started = await Promise.race([this.startAll(topology), this.outcome.then(() => false)]);
      if (started) {
        this.writeState(topology);
        this.opts.print(formatSummary(this.children, topology, this.opts.logDir));
      }
      const outcome = await this.outcome;
      return await this.finish(outcome);
    } finally {
      process.off('exit', this.onExit);
    }
  }

  /** Starts each component as soon as the components it comes `after` are ready (not a whole layer later). */
  private async startAll(topology: Topology): Promise<boolean> {
    for (const s of topology.skipped) this.opts.print(`- skipped ${s.name}: ${s.reason}`);
    const known = new Set(topology.components.map((c) => c.name));
    const ready = new Map<string, Promise<boolean>>();
    for (const spec of startLayers(topology.components).flat()) {
      const deps = (spec.after ?? []).filter((a) => known.has(a)).map((a) => ready.get(a) ?? Promise.resolve(false));
      ready.set(
        spec.name,
        Promise.all(deps).then((oks) => (oks.every(Boolean) && !this.decided ? this.startOne(spec) : false)),
      );
    }
    return (await Promise.all(ready.values())).every(Boolean);
  }

  private async startOne(spec: ComponentSpec): Promise<boolean> {
    const log = new ChildLog(join(this.opts.logDir, `${spec.name}.log`));
    log.note(`${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}`);
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    log.attach(child.stdout);
    log.attach(child.stderr);
    let resolveExit!: (e: ChildExit) => void;
    const r: RunningChild = { spec, child, log, exit: undefined, exited: new Promise((res) => (resolveExit = res)) };
    const onGone = (e: ChildExit) => {
      if (r.exit) return;
      r.exit = e;
      log.note(`${new Date().toISOString()} exited: code ${e.code} signal ${e.signal}${e.error ? ` error ${e.error}` : ''}`);
      resolveExit(e);
      if (!this.stopping) this.settle({ kind: 'crashed', name: spec.name, exit: e });
    };
    child.once('error', (err) => onGone({ code: null, signal: null, error: err.message }));
    child.once('exit', (code, signal) => onGone({ code, signal }));
    this.children.push(r);
    this.opts.print(`  starting ${spec.name} (pid ${child.pid ?? '?'}) ... waiting until ${describeReadiness(spec.ready)}`);
    const timeoutMs = spec.ready.timeoutMs ?? this.opts.readyTimeoutMs;
    const since = Date.now();
    const ok = await waitReady(spec.ready, log, timeoutMs, Promise.race([r.exited, this.outcome]));
    if (ok) {
      this.opts.print(`  ready    ${spec.name} (${((Date.now() - since) / 1000).toFixed(1)} s)`);
      return true;
    }
    if (alive(r) && !this.stopping) {
      this.settle({ kind: 'not-ready', name: spec.name, reason: `not ready within ${timeoutMs} ms (${describeReadiness(spec.ready)})` });
    }
    return false;
  }

  private async finish(outcome: Outcome): Promise<number> {
    this.stopping = true;
    for (const f of this.opts.stateFiles ?? []) rmSync(f, { force: true });
    if (outcome.kind === 'signal') this.opts.print(`\n${outcome.signal}: stopping ${this.children.filter(alive).length} component(s) ...`);
    else {
      const r = this.children.find((c) => c.spec.name === outcome.name);
      this.opts.print(formatCrash(outcome, r?.log.lastLines() ?? [], r?.log.path));
      this.opts.print(`stopping the other components ...`);
    }
    await this.stopAll();
    const ports = this.children.flatMap((c) => c.spec.ports);
    const busy = await waitPortsFree(ports, 5000);
    for (const c of this.children) await c.log.close();
    if (busy.length > 0) {
      this.opts.print(`still bound after stop: ${busy.map((p) => `${p.host}:${p.port}`).join(', ')}`);
      return EXIT.FAILURE;
    }
    this.opts.print(`all components stopped, ${ports.length} port(s) free. Logs: ${this.opts.logDir}`);
    return outcome.kind === 'signal' ? EXIT.OK : EXIT.FAILURE;
  }

  /** Stops the layers in reverse start order; within a layer in parallel. */
  private async stopAll(): Promise<void> {
    const started = new Set(this.children.map((c) => c.spec.name));
    const layers = startLayers(this.children.map((c) => c.spec)).reverse();
    for (const layer of layers) {
      await Promise.all(
        layer
          .filter((s) => started.has(s.name))
          .map((s) => this.stopOne(this.children.find((c) => c.spec.name === s.name) as RunningChild)),
      );
    }
  }

  private async stopOne(r: RunningChild): Promise<void> {
    if (alive(r)) {
      killGroup(r, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const inTime = await Promise.race([
        r.exited.then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.opts.stopGraceMs))),
      ]);
      clearTimeout(timer);
      if (!inTime) {
        this.opts.print(`  ${r.spec.name} did not stop within ${this.opts.stopGraceMs} ms: SIGKILL`);
        killGroup(r, 'SIGKILL');
        await Promise.race([r.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      }
    }
    // Anything the child left behind in its process group goes too.
    killGroup(r, 'SIGKILL');
    this.opts.print(`  stopped  ${r.spec.name}${r.exit ? ` (${r.exit.signal ?? `exit ${r.exit.code}`})` : ''}`);
  }

  private writeState(topology: Topology): void {
    const state = {
      ready: true,
      logDir: this.opts.logDir,
      supervisorPid: process.pid,
      components: this.children.map((c) => ({
        name: c.spec.name,
        role: c.spec.role,
        pid: c.child.pid,
        ports: c.spec.ports,
        links: c.spec.links ?? [],
        log: c.log.path,
      })),
      skipped: topology.skipped,
    };
    const text = JSON.stringify(state, null, 2) + '\n';
    writeFileSync(join(this.opts.logDir, 'topology.json'), text);
    for (const f of this.opts.stateFiles ?? []) writeFileSync(f, text);
  }
}
