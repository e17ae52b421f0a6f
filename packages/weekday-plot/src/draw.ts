/**
 * Drawing the charts: in this thread and, where there is another core, in a
 * worker thread started before the records are read, which loads the charts'
 * bundle meanwhile. Each chart goes to whichever lane is free, two lanes per
 * thread (one chart is laid out while the other's PNG is encoded on Node's
 * thread pool); the images come back in the charts' order, the same bytes
 * whichever thread drew them.
 */
import { helperThreads, serveWorker, WorkerPool } from "@dicom-pipes/dimse/app";
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import type { ImageFormat } from "./specs.js";

/** A chart to draw, and the file it goes to. */
export interface Chart {
  file: string;
  spec: Record<string, unknown>;
}

interface PainterData {
  format: ImageFormat;
}

/** A chart's spec to draw; none: only load the charts' bundle. */
interface Request {
  spec?: Record<string, unknown>;
}

type Draw = (spec: Record<string, unknown>) => Promise<Buffer>;

const ENTRY = "weekday-plot/charts";
// In a worker thread started for ENTRY: charts drawn on request.
serveWorker<PainterData, Request, Uint8Array>(ENTRY, (d, ctx) => {
  const charts = import("./charts.lazy.js");
  return {
    run: async (r) => {
      const { render } = await charts;
      return r.spec ? render(r.spec, d.format, ctx.log) : undefined;
    },
    close: async () => undefined,
  };
});
/** The module a worker thread runs: the bundle, or this file from the sources. */
const WORKER_URL = new URL(import.meta.url);

/** Lanes per thread. */
const LANES = 2;

export class Painter {
  private readonly pool?: WorkerPool<PainterData, Request, Uint8Array>;
  /** The worker's lanes are free: the charts' bundle is loaded there. */
  private readonly loaded?: Promise<unknown>;

  constructor(
    private readonly format: ImageFormat,
    private readonly log: CliLogger,
    env: NodeJS.ProcessEnv,
  ) {
    const threads = helperThreads(1, env);
    if (!threads) return;
    this.pool = new WorkerPool<PainterData, Request, Uint8Array>({
      url: WORKER_URL,
      entry: ENTRY,
      data: { format },
      size: LANES,
      threads,
      depth: 1,
      log,
    });
    this.pool.start();
    const pool = this.pool;
    this.loaded = Promise.allSettled(Array.from({ length: LANES }, () => pool.run({})));
  }

  /**
   * Draw the charts and hand each image to `take` in order (false: stop). Returns the charts
   * taken.
   */
  async paint(
    charts: Chart[],
    take: (chart: Chart, image: Buffer) => Promise<boolean>,
  ): Promise<number> {
    // Vega and the canvas in this thread too: only once there is something to draw (the
    // worker's lanes start meanwhile).
    const loading = import("./charts.lazy.js");
    const here: Draw = async (spec) => (await loading).render(spec, this.format, this.log);
    const slots = charts.map(() => {
      let resolve!: (b: Buffer) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<Buffer>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Not awaited if the run stops first: no unhandled rejection.
      promise.catch(() => undefined);
      return { promise, resolve, reject };
    });
    let next = 0;
    let stopped = false;
    const lane = async (draw: Draw, thread: boolean, ready?: Promise<unknown>) => {
      await ready;
      for (let i = next++; i < charts.length && !stopped; i = next++) {
        const spec = charts[i]!.spec;
        try {
          slots[i]!.resolve(await draw(spec));
          this.log.debug(`${charts[i]!.file}: drawn in the ${thread ? "worker" : "main"} thread`);
        } catch (e) {
          if (!thread) {
            slots[i]!.reject(e);
            continue;
          }
          // A worker thread that fails draws no more: this thread draws its chart.
          this.log.warn(`chart drawn again in the main thread: ${(e as Error).message}`);
          await here(spec).then(slots[i]!.resolve, slots[i]!.reject);
          return;
        }
      }
    };
    const lanes: Array<Promise<void>> = [];
    const pool = this.pool;
    if (pool) {
      const inThread: Draw = async (spec) => {
        const image = await pool.run({ spec });
        if (!image) throw new Error("the worker thread stopped");
        return Buffer.from(image.buffer, image.byteOffset, image.byteLength);
      };
      for (let k = 0; k < LANES; k++) lanes.push(lane(inThread, true, this.loaded));
    }
    for (let k = 0; k < LANES; k++) lanes.push(lane(here, false));
    // A chart no lane got to (a lane ended early): an error, never a wait.
    void Promise.all(lanes).then(() => {
      for (const s of slots) s.reject(new Error("chart not drawn"));
    });
    for (let i = 0; i < charts.length; i++) {
      if (!(await take(charts[i]!, await slots[i]!.promise))) {
        stopped = true;
        return i + 1;
      }
    }
    return charts.length;
  }

  /** The worker thread ends (after the chart in hand). */
  async close(): Promise<void> {
    await this.pool?.close();
  }
}
