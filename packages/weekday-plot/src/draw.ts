/**
 * Drawing the charts in order. Two at a time: while one chart's PNG is
 * encoded on Node's thread pool, the next one is laid out in this thread.
 * (A worker thread drawing beside this one was measured slower on 2 cores,
 * 1000 and 1 000 000 records: its start-up and second warm-up cost more than
 * it drew.)
 */
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import type { ImageFormat } from "./specs.js";

/** A chart to draw, and the file it goes to. */
export interface Chart {
  file: string;
  spec: Record<string, unknown>;
}

/**
 * Draw the charts and hand each image to `take` in order (false: stop). Returns the charts
 * taken.
 */
export async function drawInOrder(
  charts: Chart[],
  format: ImageFormat,
  log: CliLogger,
  take: (chart: Chart, image: Buffer) => Promise<boolean>,
): Promise<number> {
  // Vega and the canvas: only once there is something to draw.
  const { render } = await import("./charts.lazy.js");
  const images: Array<Promise<Buffer>> = [];
  const start = (i: number) => {
    if (i < charts.length && !images[i]) {
      images[i] = render(charts[i]!.spec, format, log);
      // Not awaited if the run stops first: no unhandled rejection.
      images[i]!.catch(() => undefined);
    }
  };
  start(0);
  for (let i = 0; i < charts.length; i++) {
    start(i + 1);
    if (!(await take(charts[i]!, await images[i]!))) return i + 1;
  }
  return charts.length;
}
