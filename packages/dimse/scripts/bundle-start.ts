// Injected first into every tool's bundle by bundle.mjs: map the bundle's stack frames to the .ts sources.
import { mapBundleStacks } from "../src/cli/stack-map.js";

mapBundleStacks(import.meta.url);
