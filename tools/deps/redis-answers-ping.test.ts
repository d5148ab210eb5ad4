// redis-server from Debian on a free loopback port: PING answers PONG, and a value set is read back.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { redisCommand, requireDep, startRedis, type RedisHandle } from './src/index';

describe('redis', () => {
  let redis: RedisHandle | undefined;
  after(async () => {
    await redis?.stop();
  });

  it('answers PING and keeps a value', async (t) => {
    if (!requireDep(t, 'redis')) return;
    redis = await startRedis();
    assert.equal(await redisCommand(redis.port, ['PING']), 'PONG');
    assert.equal(await redisCommand(redis.port, ['SET', 'mesh:smoke', 'v1']), 'OK');
    assert.equal(await redisCommand(redis.port, ['GET', 'mesh:smoke']), 'v1');
    assert.equal(await redisCommand(redis.port, ['GET', 'mesh:absent']), null);
    assert.equal(await redisCommand(redis.port, ['INCR', 'mesh:count']), 1);
    await assert.rejects(redisCommand(redis.port, ['NO-SUCH-COMMAND']), /ERR unknown command/);
  });
});
