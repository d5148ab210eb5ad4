/**
 * Writes the Envoy descriptor (see src/protos-descriptor.ts) beside the lib's sources, or to the path given.
 * With --if-stale it is written only when missing or generated from other inputs (tools/build-app.mjs runs
 * it so before copying libs/xds/proto beside a bundle; a process running from sources does the same on
 * first use).
 *   node --import tsx libs/xds/scripts/generate-descriptor.ts [--if-stale] [out.json]
 */
import * as path from 'node:path';
import { DESCRIPTOR_PROTO_FILES } from '../src/protos';
import { DESCRIPTOR_FILE, ensureDescriptor, writeDescriptor } from '../src/protos-descriptor';

const args = process.argv.slice(2);
const ifStale = args.includes('--if-stale');
const given = args.find((a) => !a.startsWith('--'));
const out = path.resolve(given ?? path.join(__dirname, '../proto', DESCRIPTOR_FILE));
if (ifStale) ensureDescriptor(out, DESCRIPTOR_PROTO_FILES);
else writeDescriptor(out, DESCRIPTOR_PROTO_FILES);
process.stdout.write(`${out} is current\n`);
