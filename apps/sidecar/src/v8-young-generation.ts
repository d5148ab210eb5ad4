/**
 * The sidecar's young generation stays at V8's initial size (1 MiB semi-spaces) instead of growing to
 * 16 MiB ones under load. Almost everything the data path allocates dies within one request, so small
 * semi-spaces cost a few more (cheap) scavenges and save about 30 MB of RSS at 1000 rps (issue 4: the
 * RSS target is 60 MB). Set here, imported first by main.ts, so that it holds for every way the product
 * starts (`node dist/apps/sidecar/main.js` in the image, the injector, local-mesh, the benchmark) before
 * start-up allocation grows the space. V8 reads the growth factor at each scavenge, so setting it at run
 * time works (unlike --max-semi-space-size, which is fixed when the heap is created). An operator's own
 * young-generation flags on the command line or in NODE_OPTIONS win.
 */
import * as v8 from 'node:v8';

const OPERATOR_FLAGS = /--(max-)?semi-space|--semi-space-growth-factor/;

if (!OPERATOR_FLAGS.test(process.execArgv.join(' ')) && !OPERATOR_FLAGS.test(process.env.NODE_OPTIONS ?? '')) {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
