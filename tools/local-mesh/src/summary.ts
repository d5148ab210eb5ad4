/** What the user reads: the table of what runs where once everything is ready, and a crash report. */
import type { Topology } from './component';
import type { Outcome, RunningChild } from './supervisor';

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => '  ' + r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join('  '));
}

export function formatSummary(children: readonly RunningChild[], topology: Topology, logDir: string): string {
  const rows = [['COMPONENT', 'ROLE', 'PID', 'LISTENS ON', 'LOG']];
  for (const c of children) {
    rows.push([
      c.spec.name,
      c.spec.role,
      String(c.child.pid ?? '-'),
      c.spec.ports.map((p) => `${p.name} ${p.host}:${p.port}`).join(', ') || '-',
      `${c.spec.name}.log`,
    ]);
  }
  const lines = ['', `Ready: ${children.length} component(s) running.`, '', ...table(rows), ''];
  const links = children.flatMap((c) => c.spec.links ?? []);
  for (const l of links) lines.push(`  ${l.label}: ${l.url}`);
  if (links.length > 0) lines.push('');
  for (const s of topology.skipped) lines.push(`  not started: ${s.name} (${s.reason})`);
  if (topology.skipped.length > 0) lines.push('');
  for (const n of topology.notes) lines.push(`  ${n}`);
  lines.push(`  Logs: ${logDir} (one file per component)`, '  Ctrl-C stops everything.', '');
  return lines.join('\n');
}

export function formatCrash(outcome: Exclude<Outcome, { kind: 'signal' }>, lastLines: string[], logPath: string | undefined): string {
  const why =
    outcome.kind === 'not-ready'
      ? outcome.reason
      : outcome.exit.error
        ? `could not be started: ${outcome.exit.error}`
        : outcome.exit.signal
          ? `was killed by signal ${outcome.exit.signal}`
          : `exited with code ${outcome.exit.code}`;
  const lines = ['', `FAILED: ${outcome.name} ${why}.`];
  if (lastLines.length > 0) {
    lines.push(`Last ${lastLines.length} line(s) of ${logPath ?? 'its log'}:`);
    for (const l of lastLines) lines.push(`  | ${l}`);
  } else lines.push(`It wrote nothing${logPath ? ` (${logPath})` : ''}.`);
  return lines.join('\n');
}
