import { runApp } from '@mesh/runtime';
import { errors } from './errors';
import { flags, usageInfo } from './flags';

void runApp({
  component: 'mixer',
  usage: usageInfo,
  flags,
  async start() {
    throw errors.create('NOT_IMPLEMENTED', {});
  },
});
