/**
 * Writes libs/xds/proto/envoy-descriptor.json from Envoy's .proto files (see src/protos-descriptor.ts).
 * Run after changing DESCRIPTOR_PROTO_FILES or the @grpc/grpc-js-xds version:
 *   node --import tsx libs/xds/scripts/generate-descriptor.ts
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DESCRIPTOR_PROTO_FILES } from '../src/protos';
import { buildDescriptor, DESCRIPTOR_FILE, descriptorText, parseProtoFiles } from '../src/protos-descriptor';

const out = path.join(__dirname, '../proto', DESCRIPTOR_FILE);
const text = descriptorText(buildDescriptor(parseProtoFiles(DESCRIPTOR_PROTO_FILES), DESCRIPTOR_PROTO_FILES));
writeFileSync(out, text);
process.stdout.write(`wrote ${out} (${text.length} bytes)\n`);
