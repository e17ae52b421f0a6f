// A worker thread's module for workers.test.ts: its handler's close() ends only when the run
// is aborted (an association whose peer never answers the release).
import { serveWorker } from "../src/app/index.js";

serveWorker<unknown, number, number>("test/closes-on-abort", (_d, ctx) => ({
  run: async (n) => n + 1,
  close: () =>
    new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    }),
}));
