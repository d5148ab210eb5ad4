import { runApp } from '@mesh/runtime';
import { flags, usageInfo } from './flags';
import { startPilot } from './pilot';

void runApp({
  component: 'pilot',
  usage: usageInfo,
  flags,
  async start({ flags: f, log }) {
    const pilot = await startPilot({
      configDir: f.configDir,
      xdsAddress: f.xdsAddress,
      debugAddress: f.debugAddress,
      debounceAfterMs: f.debounceAfter,
      debounceMaxMs: f.debounceMax,
      pushThrottle: f.pushThrottle,
      rescanMs: f.configRescan,
      rootNamespace: f.rootNamespace,
      domainSuffix: f.domainSuffix,
      log,
    });
    log.info('pilot listening', { xdsPort: pilot.xdsPort, debugPort: pilot.debugPort, configDir: f.configDir });
    return pilot;
  },
});
