/**
 * Charts: Vega-Lite specs compiled to Vega and rendered headless, to PNG
 * through @napi-rs/canvas (prebuilt Skia shipped inside the npm package, no
 * system libraries) or to SVG by Vega itself. Text uses the DejaVu Sans
 * fonts shipped by the dejavu-fonts-ttf package, registered at start-up,
 * so machines without system fonts render the same labels; Vega measures
 * text with the same canvas. Vega's and Vega-Lite's logs go to our stderr
 * logger, never to stdout.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import type { Sample } from "./collect.js";

export const WIDTH = 1200;
export const HEIGHT = 600;
const FONT = "DejaVu Sans";
const BOX_COLOR = "#4c78a8";

export type ImageFormat = "png" | "svg";

const HOURS = Array.from({ length: 24 }, (_, h) => h);

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

type VegaModule = typeof import("vega");
type CanvasModule = typeof import("@napi-rs/canvas");
let loaded:
  | Promise<{ vega: VegaModule; vl: typeof import("vega-lite"); canvas: CanvasModule }>
  | undefined;

/** Load Vega, Vega-Lite and the canvas once; register the fonts and real text measurement. */
function load() {
  loaded ??= (async () => {
    const [vega, vl, canvas] = await Promise.all([
      import("vega"),
      import("vega-lite"),
      import("@napi-rs/canvas"),
    ]);
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
    return { vega, vl, canvas };
  })();
  return loaded;
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
  const { vega, vl, canvas } = await load();
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

export interface BoxplotInfo {
  title: string;
  subtitle: string;
  samples: Sample[];
}

/** Boxplots of studies per (date, hour) for hours 0–23, seed-style (1.5 × IQR whiskers, filled boxes, guides every 6). */
export function boxplotSpec(b: BoxplotInfo): Record<string, unknown> {
  const max = b.samples.reduce((m, s) => Math.max(m, s.studies), 0);
  const top = Math.max(max + 1, 4); // headroom so the highest outlier is not cut
  const guides: Array<{ y: number }> = [];
  for (let y = 6; y <= max; y += 6) guides.push({ y });
  const y = {
    field: "studies",
    type: "quantitative",
    scale: { domain: [0, top], nice: true, zero: true },
    axis: { title: "Number of Unique Studies", tickMinStep: 1, format: "d", grid: true },
  };
  return {
    title: { text: b.title, subtitle: b.subtitle },
    layer: [
      {
        data: { values: guides },
        mark: { type: "rule", strokeDash: [6, 4], color: "#9a9a9a", strokeWidth: 1.2 },
        encoding: { y: { field: "y", type: "quantitative" } },
      },
      {
        data: { values: b.samples },
        mark: {
          type: "boxplot",
          extent: 1.5,
          size: 26,
          box: { color: BOX_COLOR, fillOpacity: 0.85, stroke: "#2f4b6e", strokeWidth: 1 },
          median: { color: "#e45756", thickness: 3 },
          rule: { color: "#2f4b6e" },
          ticks: { color: "#2f4b6e", size: 12 },
          outliers: { color: "#2f4b6e", size: 22, fillOpacity: 0 },
        },
        encoding: {
          x: {
            field: "hour",
            type: "ordinal",
            scale: { domain: HOURS },
            axis: { title: "Hour of Day", labelAngle: 0, grid: false },
          },
          y,
        },
      },
    ],
    resolve: { scale: { y: "shared" } },
  };
}

/** Heatmap of median studies per weekday × hour, each cell labelled with its value. */
export function heatmapSpec(
  title: string,
  subtitle: string,
  cells: Array<{ weekday: string; hour: number; median: number }>,
  weekdays: readonly string[],
): Record<string, unknown> {
  const max = cells.reduce((m, c) => Math.max(m, c.median), 0);
  const x = {
    field: "hour",
    type: "ordinal",
    scale: { domain: HOURS },
    axis: { title: "Hour of Day", labelAngle: 0, domain: false, ticks: false },
  };
  const y = {
    field: "weekday",
    type: "ordinal",
    scale: { domain: weekdays },
    axis: { title: "Weekday", domain: false, ticks: false },
  };
  return {
    title: { text: title, subtitle },
    data: { values: cells },
    encoding: { x, y },
    layer: [
      {
        mark: { type: "rect", stroke: "white", strokeWidth: 1.5 },
        encoding: {
          color: {
            field: "median",
            type: "quantitative",
            scale: { scheme: "blues", domain: [0, Math.max(max, 1)] },
            legend: { title: "Median studies", gradientLength: 380, tickMinStep: 1 },
          },
        },
      },
      {
        mark: { type: "text", fontSize: 13 },
        encoding: {
          text: { field: "median", type: "quantitative", format: ".3~r" },
          color: {
            condition: { test: `datum.median > ${Math.max(max, 1) * 0.55}`, value: "white" },
            value: "#222222",
          },
        },
      },
    ],
  };
}
