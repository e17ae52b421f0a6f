/**
 * `dcmdir query`: ditag's selection over the index — StudyDate equal to a
 * day or within a range, and a regular expression matched against any of
 * some target attributes — at series (default), study or instance level.
 */
import type Database from "better-sqlite3";
import type { FlatRecord } from "@dicom-pipes/dimse/records";
import { INSTANCE_COLUMNS, SERIES_COLUMNS } from "./columns.js";

export type QueryLevel = "series" | "study" | "instance" | "files";

export interface QueryOptions {
  date?: string;
  sdate?: string;
  edate?: string;
  targets?: string[];
  pattern?: RegExp;
  level: QueryLevel;
}

export const DEFAULT_TARGETS = ["SeriesDescription", "ProtocolName", "StudyDescription"];

const SERIES_NAMES = new Set(["SeriesInstanceUID", ...SERIES_COLUMNS.map(([n]) => n)]);
const INSTANCE_NAMES = new Set(INSTANCE_COLUMNS.map(([n]) => n));
const MULTI = new Set(["ImageType"]);

export class QueryError extends Error {}

/** Columns a pattern can be matched against at a level. */
export function targetColumns(level: QueryLevel): string[] {
  return level === "instance" || level === "files"
    ? [...SERIES_NAMES, ...INSTANCE_NAMES].filter((n, i, a) => a.indexOf(n) === i)
    : [...SERIES_NAMES];
}

function whereClause(o: QueryOptions): { sql: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (o.date) {
    conds.push("s.StudyDate = ?");
    params.push(o.date);
  }
  if (o.sdate) {
    conds.push("s.StudyDate >= ?");
    params.push(o.sdate);
  }
  if (o.edate) {
    conds.push("s.StudyDate <= ?");
    params.push(o.edate);
  }
  if (o.pattern) {
    const allowed = new Set(targetColumns(o.level));
    const targets = o.targets?.length ? o.targets : DEFAULT_TARGETS;
    for (const t of targets)
      if (!allowed.has(t))
        throw new QueryError(
          `--targets: ${t} is not an indexed attribute at ${o.level} level (${[...allowed].join(", ")})`,
        );
    // Column names come from the fixed list above, never from the user's text.
    conds.push(
      "(" +
        targets
          .map(
            (t) => `regexp(?, ${INSTANCE_NAMES.has(t) && !SERIES_NAMES.has(t) ? "i" : "s"}.${t})`,
          )
          .join(" OR ") +
        ")",
    );
    for (const _ of targets) params.push(o.pattern.source);
  }
  return { sql: conds.length ? `WHERE ${conds.join(" AND ")}` : "", params };
}

function statementFor(o: QueryOptions): { sql: string; params: unknown[] } {
  const w = whereClause(o);
  const seriesCols = ["SeriesInstanceUID", ...SERIES_COLUMNS.map(([n]) => n)]
    .map((c) => `s.${c}`)
    .join(", ");
  switch (o.level) {
    case "series":
      return {
        sql: `SELECT ${seriesCols}, (SELECT count(*) FROM instances i WHERE i.SeriesInstanceUID = s.SeriesInstanceUID) AS NumberOfSeriesRelatedInstances
              FROM series s ${w.sql} ORDER BY s.StudyDate, s.StudyTime, s.StudyInstanceUID, s.SeriesNumber, s.SeriesInstanceUID`,
        params: w.params,
      };
    case "study": {
      const studyCols = SERIES_COLUMNS.filter(([n]) =>
        /^(Patient|Study|Accession|Referring|Institution)/.test(n),
      )
        .map(([n]) => `min(s.${n}) AS ${n}`)
        .join(", ");
      return {
        sql: `SELECT ${studyCols}, group_concat(DISTINCT s.Modality) AS ModalitiesInStudy, count(*) AS NumberOfStudyRelatedSeries,
                     sum((SELECT count(*) FROM instances i WHERE i.SeriesInstanceUID = s.SeriesInstanceUID)) AS NumberOfStudyRelatedInstances
              FROM series s ${w.sql} GROUP BY s.StudyInstanceUID ORDER BY min(s.StudyDate), min(s.StudyTime), s.StudyInstanceUID`,
        params: w.params,
      };
    }
    case "instance":
    case "files": {
      const cols =
        o.level === "files"
          ? "i.path, i.SOPClassUID, i.SOPInstanceUID, s.StudyInstanceUID, i.SeriesInstanceUID"
          : `i.path, ${INSTANCE_COLUMNS.map(([n]) => `i.${n}`).join(", ")}, ${SERIES_COLUMNS.map(([n]) => `s.${n}`).join(", ")}`;
      return {
        sql: `SELECT ${cols} FROM series s JOIN instances i ON i.SeriesInstanceUID = s.SeriesInstanceUID ${w.sql}
              ORDER BY s.StudyDate, s.StudyInstanceUID, s.SeriesNumber, s.SeriesInstanceUID, i.InstanceNumber, i.path`,
        params: w.params,
      };
    }
  }
}

/** Register REGEXP for the pattern: unanchored search as Python's re.search; NULL never matches. */
function registerRegexp(db: Database.Database, re: RegExp | undefined): void {
  db.function("regexp", { deterministic: true }, (_p: unknown, value: unknown) =>
    re && typeof value === "string" && re.test(value) ? 1 : 0,
  );
}

/** Matching records, streamed from the database. */
export function* runQuery(db: Database.Database, o: QueryOptions): Generator<FlatRecord> {
  registerRegexp(db, o.pattern);
  const { sql, params } = statementFor(o);
  for (const row of db.prepare(sql).iterate(...params) as Iterable<Record<string, unknown>>) {
    const rec: FlatRecord = {};
    for (const [k, v] of Object.entries(row)) {
      if (k === "ModalitiesInStudy") rec[k] = typeof v === "string" ? v.split(",") : [];
      else if (MULTI.has(k)) rec[k] = typeof v === "string" ? v.split("\\") : null;
      else rec[k] = v === undefined ? null : v;
    }
    yield rec;
  }
}

/** Column names of the records at a level (for CSV/TSV headers, also with no match). */
export function queryColumns(db: Database.Database, o: QueryOptions): string[] {
  registerRegexp(db, o.pattern);
  return db
    .prepare(statementFor(o).sql)
    .columns()
    .map((c) => c.name);
}
