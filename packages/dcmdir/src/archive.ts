/**
 * The archive index: an SQLite database (better-sqlite3) of the headers of
 * the DICOM files under some folders. One row per file in `instances`, one
 * per series in `series` (patient and study attributes included, as
 * ditag's), a `studies` view, non-DICOM files in `skipped`. Writes are
 * batched in transactions, so a killed run loses at most one batch and the
 * next run resumes; WAL lets queries run while indexing.
 */
import { resolve } from "node:path";
import { statSync } from "node:fs";
import { createRequire } from "node:module";
import type Database from "better-sqlite3";
import { INSTANCE_COLUMNS, SERIES_COLUMNS } from "./columns.js";
import type { FileToRead, ReadOutcome } from "./read-header.js";
import { Readers } from "./readers.js";
import { mapPool, walkFiles } from "@dicom-pipes/dimse/io";
import type { CliLogger } from "@dicom-pipes/dimse/cli";

export const SCHEMA_VERSION = "1";

function schema(): string {
  const seriesCols = SERIES_COLUMNS.map(([n, , t]) => `${n} ${t}`).join(", ");
  const instCols = INSTANCE_COLUMNS.map(([n, , t]) => `${n} ${t}`).join(", ");
  const studyCols = SERIES_COLUMNS.filter(
    ([n]) => n !== "StudyInstanceUID" && /^(Patient|Study|Accession|Referring|Institution)/.test(n),
  )
    .map(([n]) => `min(${n}) AS ${n}`)
    .join(", ");
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

/** better-sqlite3 (a native module), loaded by the commands that open an index only. */
const require = createRequire(import.meta.url);

export function openIndex(path: string, o: { readonly?: boolean } = {}): Database.Database {
  const SQLite = require("better-sqlite3") as typeof Database;
  const db = new SQLite(path, {
    readonly: Boolean(o.readonly),
    fileMustExist: Boolean(o.readonly),
  });
  db.pragma("busy_timeout = 10000");
  if (!o.readonly) {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec(schema());
    const v = db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as
      | string
      | undefined;
    if (v === undefined)
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
    else if (v !== SCHEMA_VERSION)
      throw new Error(
        `${path}: index schema version ${v}, this dcmdir writes version ${SCHEMA_VERSION}`,
      );
  } else {
    const ok = db
      .prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('series', 'instances')")
      .pluck()
      .get() as number;
    if (ok !== 2) throw new Error(`${path}: not a dcmdir index (no series and instances tables)`);
  }
  return db;
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

type Outcome = { kind: "unchanged"; path: string; table: "instances" | "skipped" } | ReadOutcome;

/** Files per batch handed to a reader thread. */
const READ_BATCH = 64;

/** Index the DICOM files under `inputs` into `o.db`. */
export async function indexArchive(o: IndexOptions): Promise<IndexSummary> {
  const db = openIndex(o.db);
  let readers: Readers | undefined;
  const s: IndexSummary = {
    files: 0,
    added: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    removed: 0,
    complete: false,
  };
  try {
    const roots = o.inputs.map((p) => resolve(p));
    const known = db.prepare("SELECT path FROM roots").pluck().all() as string[];
    const others = known.filter((k) => !roots.includes(k));
    if (!o.append && others.length) {
      throw new IndexUsageError(
        `${o.db} also indexes ${others.slice(0, 3).join(", ")}${others.length > 3 ? ", …" : ""}: give --append to add folders to it, or name every indexed folder`,
      );
    }
    const run =
      Number(db.prepare("SELECT value FROM meta WHERE key = 'run'").pluck().get() ?? 0) + 1;
    db.prepare(
      "INSERT INTO meta (key, value) VALUES ('run', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(String(run));
    const addRoot = db.prepare(
      "INSERT INTO roots (path, last_run) VALUES (?, ?) ON CONFLICT (path) DO UPDATE SET last_run = excluded.last_run",
    );
    for (const r of roots) addRoot.run(r, run);

    const lookup = db.prepare(
      "SELECT size, mtime, 'instances' AS t FROM instances WHERE path = ? UNION ALL SELECT size, mtime, 'skipped' FROM skipped WHERE path = ?",
    );
    const touch = {
      instances: db.prepare("UPDATE instances SET seen = ? WHERE path = ?"),
      skipped: db.prepare("UPDATE skipped SET seen = ? WHERE path = ?"),
    };
    const instCols = INSTANCE_COLUMNS.map(([n]) => n);
    const putInstance = db.prepare(
      `INSERT OR REPLACE INTO instances (path, size, mtime, seen, ${instCols.join(", ")}) VALUES (?, ?, ?, ?, ${instCols.map(() => "?").join(", ")})`,
    );
    const seriesCols = SERIES_COLUMNS.map(([n]) => n);
    // The first file of a series gives the series row (as ditag); a later file only fills what is still empty.
    const putSeries = db.prepare(
      `INSERT INTO series (SeriesInstanceUID, ${seriesCols.join(", ")}) VALUES (?, ${seriesCols.map(() => "?").join(", ")})
       ON CONFLICT (SeriesInstanceUID) DO UPDATE SET ${seriesCols.map((c) => `${c} = coalesce(series.${c}, excluded.${c})`).join(", ")}`,
    );
    const putSkipped = db.prepare(
      "INSERT OR REPLACE INTO skipped (path, size, mtime, seen, reason) VALUES (?, ?, ?, ?, ?)",
    );
    const dropSkipped = db.prepare("DELETE FROM skipped WHERE path = ?");
    const dropInstance = db.prepare("DELETE FROM instances WHERE path = ?");

    const write = db.transaction((batch: Outcome[]) => {
      for (const r of batch) {
        switch (r.kind) {
          case "unchanged":
            touch[r.table].run(run, r.path);
            break;
          case "dicom":
            dropSkipped.run(r.path);
            putInstance.run(r.path, r.size, r.mtime, run, ...r.instance);
            if (r.seriesUID) putSeries.run(r.seriesUID, ...r.series);
            break;
          case "skipped":
            dropInstance.run(r.path);
            putSkipped.run(r.path, r.size, r.mtime, run, r.reason);
            break;
          case "failed":
            break;
        }
      }
    });

    const pool = (readers = new Readers(o.jobs));
    const walked = walkFiles(roots, {
      onError: (p, e) => {
        s.failed++;
        o.log.error(`${p}: ${e.message}`);
      },
    });
    // Walk, stat and compare with the index here; read what is new or changed in the reader threads.
    const prepared = async function* (): AsyncGenerator<{ done: Outcome[]; toRead: FileToRead[] }> {
      let done: Outcome[] = [];
      let toRead: FileToRead[] = [];
      for await (const { path } of walked) {
        let st;
        try {
          // A stat is a few microseconds from the inode cache: cheaper inline than through the thread pool.
          st = statSync(path);
        } catch (e) {
          done.push({ kind: "failed", path, reason: (e as Error).message });
          continue;
        }
        const mtime = Math.floor(st.mtimeMs);
        const prior = lookup.get(path, path) as
          | { size: number; mtime: number; t: "instances" | "skipped" }
          | undefined;
        if (prior && prior.size === st.size && prior.mtime === mtime)
          done.push({ kind: "unchanged", path, table: prior.t });
        else toRead.push([path, st.size, mtime]);
        if (toRead.length >= READ_BATCH || done.length >= 1024) {
          yield { done, toRead };
          done = [];
          toRead = [];
        }
      }
      if (done.length || toRead.length) yield { done, toRead };
    };
    const outcomes = mapPool(
      prepared(),
      Math.max(1, pool.threads * 2),
      async (c) => [...c.done, ...(await pool.read(c.toRead))],
      { order: "completion" },
    );
    const batchSize = o.batch ?? 2000;
    let batch: Outcome[] = [];
    let last = Date.now();
    loop: for await (const list of outcomes)
      for (const r of list) {
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
        if (o.signal?.aborted) break loop;
      }
    write(batch);
    if (o.signal?.aborted) return s;
    // A complete walk: what was not seen under these folders is gone from disk.
    const gone = (t: string) =>
      db.prepare(`DELETE FROM ${t} WHERE seen < ? AND (path = ? OR substr(path, 1, ?) = ?)`);
    const goneInstances = gone("instances");
    const goneSkipped = gone("skipped");
    const prune = db.transaction(() => {
      for (const r of roots) {
        const prefix = r.endsWith("/") ? r : `${r}/`;
        const args = [run, r, prefix.length, prefix] as const;
        s.removed += goneInstances.run(...args).changes;
        goneSkipped.run(...args);
      }
      db.exec(
        "DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.SeriesInstanceUID = series.SeriesInstanceUID)",
      );
      const done = db.prepare("UPDATE roots SET completed = ? WHERE path = ?");
      for (const r of roots) done.run(new Date().toISOString(), r);
    });
    prune();
    s.complete = true;
    return s;
  } finally {
    await readers?.close();
    db.close();
  }
}

export class IndexUsageError extends Error {}
