import { runApp } from '@mesh/runtime';
import { serve } from './command-serve';
import { issueTokenCommand, rotateRootCommand } from './command-tokens';
import { errors } from './errors';
import { flags, usageInfo } from './flags';

void runApp({
  component: 'citadel',
  usage: usageInfo,
  flags,
  async start({ flags: f, positionals, log }) {
    const [command = 'serve', ...rest] = positionals;
    if (rest.length > 0) throw errors.create('ARGUMENT_INVALID', { flag: 'command line', reason: `unexpected arguments: ${rest.join(' ')}` });
    switch (command) {
      case 'serve':
        return serve(f, log);
      case 'issue-token':
        return issueTokenCommand(f, log);
      case 'rotate-root':
        return rotateRootCommand(f, log);
      default:
        throw errors.create('COMMAND_UNKNOWN', { command });
    }
  },
});
