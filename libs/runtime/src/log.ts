/**
 * Structured JSON logs: one line per event on stderr, with a level, a component and free fields, so a
 * user can grep by proxy id or resource name. The level is checked once per call against a number;
 * nothing is formatted for a disabled level.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debugEnabled(): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export interface LogSink {
  write(line: string): unknown;
}

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  return value;
}

class JsonLogger implements Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel,
    private readonly base: LogFields,
    private readonly sink: LogSink,
  ) {
    this.threshold = RANK[level];
  }

  debugEnabled(): boolean {
    return this.threshold <= RANK.debug;
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.threshold <= RANK.debug) this.emit('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    if (this.threshold <= RANK.info) this.emit('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    if (this.threshold <= RANK.warn) this.emit('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    if (this.threshold <= RANK.error) this.emit('error', msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, { ...this.base, ...fields }, this.sink);
  }

  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    const record: LogFields = { time: new Date().toISOString(), level, ...this.base, msg };
    if (fields) for (const key of Object.keys(fields)) record[key] = errorFields(fields[key]);
    this.sink.write(JSON.stringify(record) + '\n');
  }
}

export function createLogger(component: string, level: LogLevel = 'info', sink: LogSink = process.stderr): Logger {
  return new JsonLogger(level, { component }, sink);
}
