#!/usr/bin/env node
// meshctl's launcher: runs the TypeScript sources through tsx (a devDependency of the workspace), with the
// workspace's tsconfig so that @mesh/* imports resolve from any working directory.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '../../..');
if (!process.env.TSX_TSCONFIG_PATH) process.env.TSX_TSCONFIG_PATH = path.join(root, 'tsconfig.base.json');
require('tsx/cjs/api').register();
require(path.join(root, 'tools/meshctl/src/main.ts')).run();
