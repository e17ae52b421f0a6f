#!/usr/bin/env node
import { FINISH_MS, main, processIo } from "../dist/main.js";
// Objects in flight get FINISH_MS to arrive before a stuck process is ended.
process.exitCode = await main(process.argv.slice(2), processIo(FINISH_MS + 5000));
