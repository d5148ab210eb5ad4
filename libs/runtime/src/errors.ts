/**
 * Stable error codes from a table. A project declares its errors once, as data:
 *
 *   export const errors = defineErrors({
 *     CONFIG_INVALID: { message: (p: { file: string }) => `invalid config in ${p.file}`, grpc: 3, http: 400 },
 *   }, 'PILOT');
 *
 * and gets `errors.create('CONFIG_INVALID', {file})`, a MeshError whose code is
 * `MESH_ERR_PILOT_CONFIG_INVALID`, with the gRPC status and HTTP status the table maps it to.
 */

/** gRPC status codes we map to (numbers are the wire values). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

export interface ErrorSpec<P> {
  message: (params: P) => string;
  grpc: GrpcStatusCode;
  http: number;
}

export class MeshError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly grpcStatus: GrpcStatusCode,
    readonly httpStatus: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'MeshError';
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) };
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySpecTable = Record<string, ErrorSpec<any>>;
type ParamsOf<S> = S extends ErrorSpec<infer P> ? P : never;

export interface ErrorTable<T extends AnySpecTable> {
  readonly area: string;
  code(name: keyof T & string): string;
  create<K extends keyof T & string>(name: K, params: ParamsOf<T[K]>, details?: unknown): MeshError;
  is(err: unknown, name: keyof T & string): err is MeshError;
  /** Every code of this table, for docs and tests. */
  codes(): string[];
}

export function defineErrors<T extends AnySpecTable>(area: string, table: T): ErrorTable<T> {
  const prefix = `MESH_ERR_${area}_`;
  return {
    area,
    code: (name) => prefix + name,
    create(name, params, details) {
      const spec = table[name];
      return new MeshError(prefix + name, spec.message(params), spec.grpc, spec.http, details);
    },
    is(err, name): err is MeshError {
      return err instanceof MeshError && err.code === prefix + name;
    },
    codes: () => Object.keys(table).map((name) => prefix + name),
  };
}
