/**
 * The archive index: an SQLite database (better-sqlite3) of the headers of
 * the DICOM files under some folders. One row per file in `instances`, one
 * per series in `series` (patient and study attributes included, as
 * ditag's), a `studies` view, non-DICOM files in `skipped`. Writes are
 * batched in transactions, so a killed run loses at most one batch and the
 * next run resumes; WAL lets queries run while indexing.
 */
import { resolve } from "node:path";
import { stat } from "node:fs/promises";
import Database from "better-sqlite3";
import { NotDicomError, readPart10HeaderAsync, type Dataset, type Part10Header } from "@dicom-pipes/dimse/dicom";
import { mapConcurrent, walkFiles } from "@dicom-pipes/dimse/io";
import type { CliLogger } from "@dicom-pipes/dimse/cli";

export const SCHEMA_VERSION = "1";

/** Series-level columns (patient, study and series attributes), with their tags. */
export const SERIES_COLUMNS: Array<[string, number, "TEXT" | "INTEGER"]> = [
  ["PatientID", 0x00100020, "TEXT"],
  ["PatientName", 0x00100010, "TEXT"],
  ["PatientBirthDate", 0x00100030, "TEXT"],
  ["PatientSex", 0x00100040, "TEXT"],
  ["StudyInstanceUID", 0x0020000d, "TEXT"],
  ["StudyDate", 0x00080020, "TEXT"],
  ["StudyTime", 0x00080030, "TEXT"],
  ["StudyDescription", 0x00081030, "TEXT"],
  ["AccessionNumber", 0x00080050, "TEXT"],
  ["StudyID", 0x00200010, "TEXT"],
  ["ReferringPhysicianName", 0x00080090, "TEXT"],
  ["InstitutionName", 0x00080080, "TEXT"],
  ["Modality", 0x00080060, "TEXT"],
  ["SeriesNumber", 0x00200011, "INTEGER"],
  ["SeriesDescription", 0x0008103e, "TEXT"],
  ["ProtocolName", 0x00181030, "TEXT"],
  ["BodyPartExamined", 0x00180015, "TEXT"],
  ["SeriesDate", 0x00080021, "TEXT"],
  ["SeriesTime", 0x00080031, "TEXT"],
  ["Manufacturer", 0x00080070, "TEXT"],
  ["ManufacturerModelName", 0x00081090, "TEXT"],
  ["StationName", 0x00081010, "TEXT"],
];

/** Instance-level columns read from each file (besides path, size, mtime). */
export const INSTANCE_COLUMNS: Array<[string, number, "TEXT" | "INTEGER"]> = [
  ["SOPInstanceUID", 0x00080018, "TEXT"],
  ["SOPClassUID", 0x00080016, "TEXT"],
  ["TransferSyntaxUID", 0x00020010, "TEXT"],
  ["SeriesInstanceUID", 0x0020000e, "TEXT"],
  ["InstanceNumber", 0x00200013, "INTEGER"],
  ["ImageType", 0x00080008, "TEXT"],
  ["AcquisitionDate", 0x00080022, "TEXT"],
  ["ContentDate", 0x00080023, "TEXT"],
];

const STOP_BEFORE_PIXELS = 0x7fe00010;

function schema(): string {
  const seriesCols = SERIES_COLUMNS.map(([n, , t]) => `${n} ${t}`).join(", ");
  const instCols = INSTANCE_COLUMNS.map(([n, , t]) => `${n} ${t}`).join(", ");
  const studyCols = SERIES_COLUMNS.filter(([n]) => n !== "StudyInstanceUID" && /^(Patient|Study|Accession|Referring|Institution)/.test(n)).map(([n]) => `min(${n}) AS ${n}`).join(", ");
  return `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, last_run INTEGER, completed TEXT);
CREATE TABLE IF NOT EXISTS series (SeriesInstanceUID TEXT PRIMARY KEY, ${seriesCols});
CREATE INDEX IF NOT EXISTS series_study ON series (StudyInstanceUID);
CREATE INDEX IF NOT EXISTS series_date ON series (StudyDate);
CREATE INDEX IF NOT EXISTS series_patient ON series (PatientID);
CREATE TABLE IF NOT EXISTS instances (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL, seen INTEGER NOT NULL, ${instCols});
CREATE INDEX IF NOT EXISTS instances_series ON instances (SeriesInstanceUID);
CREATE INDEX IF NOT EXISTS instances_sop ON instances (SOPInstanceUID);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL, seen INTEGER NOT NULL, reason TEXT);
CREATE VIEW IF NOT EXISTS studies AS
  SELECT StudyInstanceUID, ${studyCols},
         group_concat(DISTINCT Modality) AS ModalitiesInStudy,
         count(*) AS NumberOfStudyRelatedSeries
  FROM series GROUP BY StudyInstanceUID;
`;
}

export function openIndex(path: string, o: { readonly?: boolean } = {}): Database.Database {
  const db = new Database(path, { readonly: Boolean(o.readonly), fileMustExist: Boolean(o.readonly) });
  db.pragma("busy_timeout = 10000");
  if (!o.readonly) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec(schema());
    const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined;
    if (v === undefined) db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    else if (v !== SCHEMA_VERSION) throw new Error(`${path}: index schema version ${v}, this dcmdir writes version ${SCHEMA_VERSION}`);
  } else {
    const ok = db.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('series', 'instances')").pluck().get() as number;
    if (ok !== 2) throw new Error(`${path}: not a dcmdir index (no series and instances tables)`);
  }
  return db;
}

function columnValue(ds: Dataset, tag: number, type: "TEXT" | "INTEGER"): string | number | null {
  const s = ds.string(tag);
  if (s === undefined || s === "") return null;
  if (type === "INTEGER") {
    const n = Number(s);
    return Number.isInteger(n) ? n : null;
  }
  return s;
}

export interface IndexOptions {
  db: string;
  inputs: string[];
  append: boolean;
  jobs: number;
  log: CliLogger;
  signal?: AbortSignal;
  /** Rows per transaction. */
  batch?: number;
  onProgress?: (s: IndexSummary) => void;
}

export interface IndexSummary {
  files: number;
  added: number;
  unchanged: number;
  skipped: number;
  failed: number;
  removed: number;
  complete: boolean;
}

type Outcome =
  | { kind: "unchanged"; path: string; table: "instances" | "skipped" }
  | { kind: "dicom"; path: string; size: number; mtime: number; header: Part10Header }
  | { kind: "skipped"; path: string; size: number; mtime: number; reason: string }
  | { kind: "failed"; path: string; reason: string };

/** Index the DICOM files under `inputs` into `o.db`. */
export async function indexArchive(o: IndexOptions): Promise<IndexSummary> {
  const db = openIndex(o.db);
  const s: IndexSummary = { files: 0, added: 0, unchanged: 0, skipped: 0, failed: 0, removed: 0, complete: false };
  try {
    const roots = o.inputs.map((p) => resolve(p));
    const known = db.prepare("SELECT path FROM roots").pluck().all() as string[];
    const others = known.filter((k) => !roots.includes(k));
    if (!o.append && others.length) {
      throw new IndexUsageError(`${o.db} also indexes ${others.slice(0, 3).join(", ")}${others.length > 3 ? ", …" : ""}: give --append to add folders to it, or name every indexed folder`);
    }
    const run = Number(db.prepare("SELECT value FROM meta WHERE key = 'run'").pluck().get() ?? 0) + 1;
    db.prepare("INSERT INTO meta (key, value) VALUES ('run', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(run));
    const addRoot = db.prepare("INSERT INTO roots (path, last_run) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET last_run = excluded.last_run");
    for (const r of roots) addRoot.run(r, run);

    const lookup = db.prepare("SELECT size, mtime, 'instances' AS t FROM instances WHERE path = ? UNION ALL SELECT size, mtime, 'skipped' FROM skipped WHERE path = ?");
    const touch = { instances: db.prepare("UPDATE instances SET seen = ? WHERE path = ?"), skipped: db.prepare("UPDATE skipped SET seen = ? WHERE path = ?") };
    const instCols = INSTANCE_COLUMNS.map(([n]) => n);
    const putInstance = db.prepare(`INSERT OR REPLACE INTO instances (path, size, mtime, seen, ${instCols.join(", ")}) VALUES (?, ?, ?, ?, ${instCols.map(() => "?").join(", ")})`);
    const seriesCols = SERIES_COLUMNS.map(([n]) => n);
    // The first file of a series gives the series row (as ditag); a later file only fills what is still empty.
    const putSeries = db.prepare(
      `INSERT INTO series (SeriesInstanceUID, ${seriesCols.join(", ")}) VALUES (?, ${seriesCols.map(() => "?").join(", ")})
       ON CONFLICT (SeriesInstanceUID) DO UPDATE SET ${seriesCols.map((c) => `${c} = coalesce(series.${c}, excluded.${c})`).join(", ")}`,
    );
    const putSkipped = db.prepare("INSERT OR REPLACE INTO skipped (path, size, mtime, seen, reason) VALUES (?, ?, ?, ?, ?)");
    const dropSkipped = db.prepare("DELETE FROM skipped WHERE path = ?");
    const dropInstance = db.prepare("DELETE FROM instances WHERE path = ?");

    const write = db.transaction((batch: Outcome[]) => {
      for (const r of batch) {
        switch (r.kind) {
          case "unchanged":
            touch[r.table].run(run, r.path);
            break;
          case "dicom": {
            const h = r.header;
            const values = INSTANCE_COLUMNS.map(([n, tag, t]) => {
              if (n === "TransferSyntaxUID") return h.transferSyntax;
              if (n === "SOPInstanceUID") return h.sopInstanceUID;
              if (n === "SOPClassUID") return h.sopClassUID;
              return columnValue(h.head, tag, t);
            });
            dropSkipped.run(r.path);
            putInstance.run(r.path, r.size, r.mtime, run, ...values);
            const series = h.head.string(0x0020000e);
            if (series) putSeries.run(series, ...SERIES_COLUMNS.map(([, tag, t]) => columnValue(h.head, tag, t)));
            break;
          }
          case "skipped":
            dropInstance.run(r.path);
            putSkipped.run(r.path, r.size, r.mtime, run, r.reason);
            break;
          case "failed":
            break;
        }
      }
    });

    const walked = walkFiles(roots, {
      onError: (p, e) => {
        s.failed++;
        o.log.error(`${p}: ${e.message}`);
      },
    });
    const outcomes = mapConcurrent(walked, o.jobs, async (path): Promise<Outcome> => {
      let st;
      try {
        st = await stat(path);
      } catch (e) {
        return { kind: "failed", path, reason: (e as Error).message };
      }
      const mtime = Math.floor(st.mtimeMs);
      const prior = lookup.get(path, path) as { size: number; mtime: number; t: "instances" | "skipped" } | undefined;
      if (prior && prior.size === st.size && prior.mtime === mtime) return { kind: "unchanged", path, table: prior.t };
      try {
        const header = await readPart10HeaderAsync(path, STOP_BEFORE_PIXELS);
        if (header.sopClassUID === "1.2.840.10008.1.3.10") return { kind: "skipped", path, size: st.size, mtime, reason: "a DICOMDIR" };
        if (!header.sopInstanceUID) return { kind: "skipped", path, size: st.size, mtime, reason: "no SOP Instance UID" };
        return { kind: "dicom", path, size: st.size, mtime, header };
      } catch (e) {
        if (e instanceof NotDicomError) return { kind: "skipped", path, size: st.size, mtime, reason: e.message };
        return { kind: "failed", path, reason: (e as Error).message };
      }
    });
    const batchSize = o.batch ?? 2000;
    let batch: Outcome[] = [];
    let last = Date.now();
    for await (const r of outcomes) {
      s.files++;
      if (r.kind === "unchanged") s.unchanged++;
      else if (r.kind === "dicom") s.added++;
      else if (r.kind === "skipped") {
        s.skipped++;
        o.log.info(`${r.path}: skipped, ${r.reason}`);
      } else {
        s.failed++;
        o.log.error(`${r.path}: ${r.reason}`);
      }
      batch.push(r);
      if (batch.length >= batchSize || Date.now() - last > 1000) {
        write(batch);
        batch = [];
        last = Date.now();
        o.onProgress?.(s);
      }
      if (o.signal?.aborted) break;
    }
    write(batch);
    if (o.signal?.aborted) return s;
    // A complete walk: what was not seen under these folders is gone from disk.
    const prune = db.transaction(() => {
      for (const r of roots) {
        const prefix = r.endsWith("/") ? r : r + "/";
        for (const t of ["instances", "skipped"]) {
          s.removed += db.prepare(`DELETE FROM ${t} WHERE seen < ? AND (path = ? OR substr(path, 1, ?) = ?)`).run(run, r, prefix.length, prefix).changes * (t === "instances" ? 1 : 0);
        }
      }
      db.exec("DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.SeriesInstanceUID = series.SeriesInstanceUID)");
      const done = db.prepare("UPDATE roots SET completed = ? WHERE path = ?");
      for (const r of roots) done.run(new Date().toISOString(), r);
    });
    prune();
    s.complete = true;
    return s;
  } finally {
    db.close();
  }
}

export class IndexUsageError extends Error {}
