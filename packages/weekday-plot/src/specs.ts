/**
 * The charts' Vega-Lite specs: per-weekday boxplots and the weekday × hour
 * heatmap. Rendering them (Vega, Vega-Lite and the canvas) is charts.lazy.ts,
 * loaded only by a run that draws.
 */
import type { Sample } from "./collect.js";

export const WIDTH = 1200;
export const HEIGHT = 600;
const BOX_COLOR = "#4c78a8";

export type ImageFormat = "png" | "svg";

const HOURS = Array.from({ length: 24 }, (_, h) => h);

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
