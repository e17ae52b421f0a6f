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

/** Draw the charts and hand each image to `take`, in order. */
export async function drawInOrder(
  charts: Chart[],
  format: ImageFormat,
  log: CliLogger,
  take: (chart: Chart, image: Buffer) => Promise<void>,
): Promise<void> {
  // Vega and the canvas: only once there is something to draw.
  const { render } = await import("./charts.lazy.js");
  const start = (i: number) => {
    if (i >= charts.length) return undefined;
    const image = render(charts[i]!.spec, format, log);
    // Not awaited if a chart before it fails: no unhandled rejection.
    image.catch(() => undefined);
    return image;
  };
  // The chart being taken, and the next one being drawn.
  let next = start(0);
  for (let i = 0; i < charts.length; i++) {
    const image = next!;
    next = start(i + 1);
    await take(charts[i]!, await image);
  }
}
