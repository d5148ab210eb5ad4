/**
 * A finding of a delivery check: where (file, line or document index, field path) and what is wrong. Checks
 * return every problem they find instead of stopping at the first, so one run shows the whole picture.
 */
export interface Problem {
  /** e.g. "apps/pilot/Dockerfile:12", "k8s/base/pilot.yaml#2 spec.template.spec.containers[0].image". */
  where: string;
  message: string;
}

export function formatProblems(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.where}: ${p.message}`).join('\n');
}
