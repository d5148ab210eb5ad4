/**
 * Validation results with field paths: what a user reads and what goes into a NACK's error_detail.
 */
export interface ValidationError {
  /** The resource name, when the error belongs to one resource. */
  resource?: string;
  /** Field path inside the resource, e.g. `virtual_hosts[0].routes[2].route.cluster`. */
  path: string;
  message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: ValidationError[] };

/** One line per error: `<resource>: <path>: <message>` (the NACK error_detail text). */
export function formatValidationErrors(errors: readonly ValidationError[]): string {
  return errors
    .map((e) => [e.resource, e.path, e.message].filter((part) => part !== undefined && part !== '').join(': '))
    .join('\n');
}
