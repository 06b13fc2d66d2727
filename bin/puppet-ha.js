#!/usr/bin/env node
// The puppet-ha command: runs the compiled CLI (built by `npm run build`, also on `npm ci`).
import "../dist/cli.js";
