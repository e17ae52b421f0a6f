/**
 * Charts: Vega-Lite specs compiled to Vega and rendered headless, to PNG
 * through @napi-rs/canvas (prebuilt Skia shipped inside the npm package, no
 * system libraries) or to SVG by Vega itself. Text uses the DejaVu Sans
 * fonts shipped by the dejavu-fonts-ttf package, registered at start-up,
 * so machines without system fonts render the same labels; Vega measures
 * text with the same canvas. Vega's and Vega-Lite's logs go to our stderr
 * logger, never to stdout.
 *
 * A bundle of its own with Vega and Vega-Lite inside (dist/charts.lazy.bundle.cjs,
 * packages/dimse/scripts/bundle.mjs), imported by a run that draws: `--help` and the
 * record reading never load it, and its V8 code cache, written after `warmUp`, spares
 * a run compiling Vega again (about 0.2 s).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as canvas from "@napi-rs/canvas";
import * as vega from "vega";
import * as vl from "vega-lite";
import { createLogger, type CliLogger } from "@dicom-pipes/dimse/cli";
import { boxplotSpec, heatmapSpec, HEIGHT, WIDTH, type ImageFormat } from "./specs.js";

const FONT = "DejaVu Sans";

/** Vega's logger interface over ours (levels: 0 none, 1 error, 2 warn, 3 info, 4 debug). */
function vegaLogger(log: CliLogger) {
  const level = log.enabled("debug") ? 4 : log.enabled("info") ? 3 : log.enabled("warn") ? 2 : 1;
  const text = (args: unknown[]) =>
    args
      .map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : JSON.stringify(a)))
      .join(" ");
  const logger = {
    level(...set: number[]) {
      return set.length ? logger : level;
    },
    error: (...a: unknown[]) => (log.error(`vega: ${text(a)}`), logger),
    warn: (...a: unknown[]) => (log.warn(`vega: ${text(a)}`), logger),
    info: (...a: unknown[]) => (log.info(`vega: ${text(a)}`), logger),
    debug: (...a: unknown[]) => (log.debug(`vega: ${text(a)}`), logger),
  };
  return logger;
}

let ready = false;

/** Once: register the fonts and real text measurement. */
function setUp(): void {
  if (ready) return;
  ready = true;
  const require = createRequire(import.meta.url);
  const fontDir = join(dirname(require.resolve("dejavu-fonts-ttf/package.json")), "ttf");
  canvas.GlobalFonts.registerFromPath(join(fontDir, "DejaVuSans.ttf"), FONT);
  canvas.GlobalFonts.registerFromPath(join(fontDir, "DejaVuSans-Bold.ttf"), FONT);
  const measure = canvas.createCanvas(1, 1).getContext("2d");
  // textMetrics and font are exported by vega (vega-scenegraph) but not declared in its types.
  const scenegraph = vega as unknown as {
    textMetrics: { width: (item: object, text: unknown) => number };
    font: (item: object) => string;
  };
  const metrics = scenegraph.textMetrics;
  metrics.width = (item, text) => {
    const t = text == null ? "" : String(text).trim();
    if (!t) return 0;
    measure.font = scenegraph.font(item);
    return measure.measureText(t).width;
  };
}

const baseConfig = {
  font: FONT,
  background: "white",
  padding: { left: 24, right: 32, top: 20, bottom: 20 },
  view: { stroke: "#bbbbbb" },
  title: {
    fontSize: 21,
    subtitleFontSize: 14,
    subtitleColor: "#555555",
    anchor: "middle",
    offset: 14,
  },
  axis: { labelFontSize: 14, titleFontSize: 16, titlePadding: 12, gridColor: "#e8e8e8" },
  legend: { labelFontSize: 13, titleFontSize: 14 },
};

/** Render a Vega-Lite spec to a PNG buffer or SVG text of exactly WIDTH × HEIGHT. */
export async function render(
  spec: Record<string, unknown>,
  format: ImageFormat,
  log: CliLogger,
): Promise<Buffer> {
  setUp();
  const logger = vegaLogger(log);
  const full = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: WIDTH,
    height: HEIGHT,
    autosize: { type: "fit", contains: "padding" },
    config: baseConfig,
    ...spec,
  };
  const compiled = vl.compile(full as never, { logger: logger as never }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger: logger as never });
  try {
    if (format === "svg") return Buffer.from(await view.toSVG());
    const c = canvas.createCanvas(WIDTH, HEIGHT);
    await view.toCanvas(1, { externalContext: c.getContext("2d") } as never);
    return await c.encode("png");
  } finally {
    view.finalize();
  }
}

/**
 * Draw one chart of each kind, in both formats: what a run compiles, for the build to write the
 * bundle's code cache from.
 */
export async function warmUp(): Promise<void> {
  // Nothing is logged below fatal: stderr is not even opened.
  const log = createLogger("weekday-plot", () => process.stderr, "fatal");
  const samples = Array.from({ length: 96 }, (_, i) => ({ hour: i % 24, studies: (i * 7) % 11 }));
  const box = boxplotSpec({ title: "Monday", subtitle: "4 Mondays", samples });
  const cells = ["Monday", "Tuesday"].flatMap((weekday, w) =>
    Array.from({ length: 24 }, (_, hour) => ({ weekday, hour, median: (hour + w) % 5 })),
  );
  const heat = heatmapSpec("Median", "2 days", cells, ["Monday", "Tuesday"]);
  for (const format of ["png", "svg"] as const) {
    await render(box, format, log);
    await render(heat, format, log);
  }
}
