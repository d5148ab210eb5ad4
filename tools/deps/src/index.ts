// @mesh/deps: the real external programs that tests and benchmarks run against, provisioned by
// tools/deps/install.sh (npm run deps) under DEPS_DIR, each with a helper that starts it on a free
// loopback port, waits until it is ready, and stops it (process group killed, temp dir removed).
export { DEPS_DIR, IN_CI, depPath, depVersion, requireDep, type DepName } from './deps-manifest';
export { freePort, canConnect, httpGet, type HttpReply } from './net-port';
export {
  startProcess,
  runProcess,
  runChecked,
  waitUntil,
  makeTempDir,
  removeTempDir,
  tail,
  type ProcessHandle,
  type StartProcessOptions,
  type ExitStatus,
  type WaitOptions,
} from './process';
export { startEnvoy, envoyVersion, type EnvoyOptions, type EnvoyHandle } from './dep-envoy';
export { startKafka, type KafkaOptions, type KafkaHandle } from './dep-kafka';
export { startRedis, redisCommand, type RedisHandle, type RedisReply } from './dep-redis';
export {
  startPrometheus,
  type PrometheusOptions,
  type PrometheusHandle,
  type PrometheusSample,
  type ScrapeJob,
} from './dep-prometheus';
export { startNginx, type NginxOptions, type NginxHandle } from './dep-nginx';
export {
  startFortioServer,
  runFortioLoad,
  parseFortioJson,
  type FortioLoadOptions,
  type FortioServerHandle,
} from './dep-fortio';
export { runWrk, parseWrkOutput, type WrkOptions } from './dep-wrk';
export { runH2load, parseH2loadOutput, type H2loadOptions } from './dep-h2load';
export { summarize, percentile, parseDurationMs, type LoadResult, type LatencyMs } from './load-result';
