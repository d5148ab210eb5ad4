// redis-server (Debian package) on a free loopback port, no persistence, plus a minimal RESP client.
import { connect } from 'node:net';
import { depPath } from './deps-manifest';
import { freePort } from './net-port';
import { makeTempDir, removeTempDir, startProcess, waitUntil } from './process';

export interface RedisHandle {
  host: string;
  port: number;
  url: string;
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

function encode(args: readonly string[]): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return out;
}

/** One RESP reply: simple string or bulk string, integer, or null (nil bulk). */
export type RedisReply = string | number | null;

/** Parses one complete non-array RESP reply at the start of `text`; undefined when more bytes are needed. */
function parseReply(text: string): { reply: RedisReply } | { error: string } | undefined {
  const end = text.indexOf('\r\n');
  if (end < 0) return undefined;
  const head = text.slice(1, end);
  switch (text[0]) {
    case '+':
      return { reply: head };
    case '-':
      return { error: head };
    case ':':
      return { reply: Number(head) };
    case '$': {
      const length = Number(head);
      if (length < 0) return { reply: null };
      const body = Buffer.from(text.slice(end + 2), 'utf8');
      return body.length >= length + 2 ? { reply: body.subarray(0, length).toString('utf8') } : undefined;
    }
    default:
      return { error: `unsupported RESP reply type "${text[0]}"` };
  }
}

/**
 * Sends one command on a fresh connection and resolves with its reply ("PONG", "OK", a bulk string, an
 * integer or null); a Redis error reply rejects. Enough for readiness checks and smoke tests: real clients
 * belong to the code under test.
 */
export function redisCommand(
  port: number,
  args: readonly string[],
  host = '127.0.0.1',
  timeoutMs = 2000,
): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    let text = '';
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`redis ${args[0]} timed out after ${timeoutMs} ms`)));
    socket.once('connect', () => socket.write(encode(args)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const parsed = parseReply(text);
      if (!parsed) return;
      socket.end();
      if ('error' in parsed) reject(new Error(`redis ${args[0]}: ${parsed.error}`));
      else resolve(parsed.reply);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`redis closed the connection before replying to ${args[0]}`)));
  });
}

export async function startRedis(opts: { timeoutMs?: number } = {}): Promise<RedisHandle> {
  const bin = depPath('redis');
  if (!bin) throw new Error('missing dependency redis: run npm run deps');
  const dir = makeTempDir('redis');
  const port = await freePort();
  const proc = startProcess({
    name: 'redis-server',
    command: bin,
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
    cwd: dir,
  });
  const stop = async (): Promise<void> => {
    await proc.stop();
    removeTempDir(dir);
  };
  try {
    await waitUntil('redis to answer PING', async () => (await redisCommand(port, ['PING'])) === 'PONG', {
      timeoutMs: opts.timeoutMs ?? 15_000,
      process: proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, pid: proc.pid, logs: proc.logs, stop };
}
