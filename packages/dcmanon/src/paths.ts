/** Where de-identified files go, and the run's settings. */
import { join } from "node:path";
import { DCMTK_UNKNOWN_PREFIX, dcmtkPrefix } from "@dicom-pipes/dimse/dicom";
import { insideOrThrow, type Layout as PathTemplate } from "@dicom-pipes/dimse/records";
import type { WalkedFile } from "@dicom-pipes/dimse/io";
import type { AnonConfig, AnonOk } from "./anon.js";
import type { JobSource } from "./job.js";

export type Layout = "hierarchy" | "mirror" | "bids" | "template";
export type MapFormat = "ndjson" | "pacsifier";

export interface RunConfig {
  anon: AnonConfig;
  outDir?: string;
  inPlace: boolean;
  layout: Layout;
  keepDirNames: boolean;
  /** `--layout template`: the path template, on de-identified values. */
  template?: PathTemplate;
  jobs: number;
  mapOut?: string;
  /** `pacsifier`: --map-out is a folder receiving new_ids.json, day_shift.json and map.ndjson. */
  mapFormat: MapFormat;
  auditLog?: string;
  pathField: string;
  failOnQuarantine: boolean;
  /** fsync each output before its rename (durable when reported, not only complete). */
  fsync: boolean;
  /** `--decompress`: write compressed files decoded, in explicit VR little endian. */
  decompress?: boolean;
  /** Files that are not DICOM (journals, dumps, README…): reported skipped, or errors. */
  nonDicom: "skip" | "error";
  version: string;
  edition: string;
  /** The options `anon` was made from: worker threads (`-j`) rebuild it from them. */
  source?: JobSource;
}

export interface Input extends WalkedFile {
  /** Why it cannot be read (a bad stdin record, a missing operand). */
  error?: string;
}

/** The `sub-XXXX` segment of a path (PACSIFIER's patient folders). */
export function folderKey(path: string): string | undefined {
  return path.split(/[\\/]/).find((s) => /^sub-[^/\\]+$/.test(s));
}

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

function safeSegment(s: string | undefined, fallback: string): string {
  const t = (s ?? "")
    .trim()
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^\.+/, "");
  return t && SAFE_NAME.test(t) ? t : fallback;
}

/** Where a de-identified file goes (names from de-identified values only, except `mirror`). */
export function outputPath(cfg: RunConfig, input: Pick<Input, "path" | "rel">, r: AnonOk): string {
  if (cfg.inPlace) return input.path;
  const dir = cfg.outDir!;
  const sop = `${r.sop}.dcm`;
  switch (cfg.layout) {
    case "mirror": {
      const parts = input.rel.split(/[\\/]/).filter((p) => p && p !== "." && p !== "..");
      return join(dir, ...parts);
    }
    case "bids": {
      const segs = input.path.split(/[\\/]/);
      const i = segs.findIndex((s) => /^sub-/.test(s));
      const inputSeries = i >= 0 && segs.length > i + 3 ? segs[i + 2] : undefined;
      const series =
        cfg.keepDirNames && inputSeries
          ? safeSegment(inputSeries, "series")
          : `${String(r.seriesNumber ?? "0").padStart(5, "0")}-${safeSegment(r.modality, "OT")}`;
      return join(
        dir,
        `sub-${safeSegment(r.patient.pseudonym, "unknown")}`,
        `ses-${safeSegment(r.studyDate, "nodate")}`,
        series,
        sop,
      );
    }
    case "template": {
      const rel = cfg.template!.render({
        dataset: r.dataset,
        extra: { prefix: dcmtkPrefix(r.sopClass) ?? DCMTK_UNKNOWN_PREFIX },
      });
      insideOrThrow(dir, rel);
      return join(dir, rel);
    }
    default:
      return join(dir, safeSegment(r.patient.pseudonym, "unknown"), r.study, r.series, sop);
  }
}
