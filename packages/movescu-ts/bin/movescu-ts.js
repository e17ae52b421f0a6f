#!/usr/bin/env node
// One file, built from src/ by esbuild (packages/dimse/scripts/bundle.mjs).
import { main, processIo } from "../dist/main.bundle.js";
process.exitCode = await main(process.argv.slice(2), processIo());
