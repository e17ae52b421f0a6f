#!/usr/bin/env node
// Runs dist/main.bundle.cjs, built from src/ by esbuild (packages/dimse/scripts/bundle.mjs).
const { BATCH_FLAGS, launch, runMain } = require("../../dimse/scripts/launch.cjs");
launch(__filename, runMain, { v8Flags: BATCH_FLAGS });
