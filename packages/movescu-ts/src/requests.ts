/**
 * Retrieve requests: DCMTK-style (`-k` keys and query files, sent as
 * given) or one per input record (CSV/TSV/NDJSON, e.g. findscu-ts output),
 * at the record's level with only the unique keys the level needs.
 */
import type { Readable } from "node:stream";
import { Dataset, Tags, type QueryModel } from "@dicom-pipes/dimse/dicom";
import {
  applyKey,
  datasetToFlat,
  mapColumn,
  serializeRecord,
  unknownName,
  validateUidQuery,
  ValueError,
  resolvePlan,
  type FlatRecord,
  type ParsedKey,
  type ResolvePlan,
  type Shard,
} from "@dicom-pipes/dimse/records";
import { batchInput, InputError, type TableOptions } from "@dicom-pipes/dimse/io";
import { readQueryFile, UsageError } from "@dicom-pipes/dimse/cli";

export type Level = "PATIENT" | "STUDY" | "SERIES" | "IMAGE";
export const LEVELS: readonly Level[] = ["PATIENT", "STUDY", "SERIES", "IMAGE"];

export interface RetrieveRequest {
  /** Where the request came from, for messages. */
  where: string;
  /** The record echoed into the result (input keys). */
  record: FlatRecord;
  identifier: Dataset;
  /** Stable identity for the resume journal. */
  key: string;
  /** Instances the archive said the study/series holds, when the record carries it. */
  expected?: number;
  /** Unique keys, to attribute received objects to this request. */
  uids: { patient?: string; studies: string[]; series: string[]; sops: string[] };
  /** The input row it came from (batch input), as read. */
  row?: InputRow;
  /** Called with the request's result record. */
  onResult?: (result: FlatRecord) => void;
}

export interface InputRow {
  /** The row's cells (CSV/TSV/spreadsheet) or record (NDJSON), as read. */
  cells: FlatRecord;
  line: number;
  /** The row's `query` column, else its line. */
  id: string | number;
}

/** A row that names what to retrieve by other keys than UIDs: resolved by C-FIND first (`--resolve`). */
export interface FilterRow {
  where: string;
  /** The row's keys (keywords). */
  record: FlatRecord;
  plan: ResolvePlan;
  row: InputRow;
}

export interface RequestSourceOptions {
  keys: ParsedKey[];
  files: string[];
  /** Batch input path (`-` = stdin). */
  input?: string;
  /** stdin, asked for only when the input is read (Node makes process.stdin on first use). */
  stdin: () => Readable;
  model: QueryModel;
  defaultLevel?: Level;
  keepGoing: boolean;
  /** Only the records of this shard (`--shard K/N`). */
  shard?: Shard;
  onInvalid?: (err: InputError) => void;
  /** `never`: a row with keys its UIDs do not imply is an error, not a C-FIND (default `auto`). */
  resolve?: "auto" | "never";
  /** The CSV/TSV header, as read. */
  onColumns?: (columns: string[]) => void;
  /** `--sheet`, `--normalize`. */
  table?: TableOptions;
}

function list(v: string | undefined): string[] {
  return (v ?? "")
    .split("\\")
    .map((s) => s.trim())
    .filter(Boolean);
}

function uidsOf(ds: Dataset): RetrieveRequest["uids"] {
  return {
    patient: ds.string(Tags.PatientID) || undefined,
    studies: list(ds.string(Tags.StudyInstanceUID)),
    series: list(ds.string(Tags.SeriesInstanceUID)),
    sops: list(ds.string(Tags.SOPInstanceUID)),
  };
}

/** The journal key: kind of retrieve, level and the identifier's keys. */
function requestKey(level: string, identifier: Dataset): string {
  return `${level} ${serializeRecord(datasetToFlat(identifier))}`;
}

function inferLevel(ds: Dataset, fallback: Level | undefined): Level | undefined {
  const given = (ds.string(Tags.QueryRetrieveLevel) ?? "").toUpperCase();
  if ((LEVELS as readonly string[]).includes(given)) return given as Level;
  if (list(ds.string(Tags.SOPInstanceUID)).length) return "IMAGE";
  if (list(ds.string(Tags.SeriesInstanceUID)).length) return "SERIES";
  if (list(ds.string(Tags.StudyInstanceUID)).length) return "STUDY";
  if (fallback) return fallback;
  if (ds.string(Tags.PatientID)) return "PATIENT";
  return undefined;
}

/** Keys a retrieve identifier carries at a level (PS3.4 C.4.2.2.1: unique keys only). */
function uniqueKeys(level: Level, model: QueryModel): number[] {
  const tags: number[] = [];
  if (model === "patient" || model === "psonly" || level === "PATIENT") tags.push(Tags.PatientID);
  if (level !== "PATIENT") tags.push(Tags.StudyInstanceUID);
  if (level === "SERIES" || level === "IMAGE") tags.push(Tags.SeriesInstanceUID);
  if (level === "IMAGE") tags.push(Tags.SOPInstanceUID);
  return tags;
}

/**
 * The first unique key a DCMTK-style request lacks (absent, empty or
 * a wildcard): the level's own key and, below STUDY, those of the levels
 * between (PatientID above PATIENT level is left to the peer, as DCMTK
 * movescu sends patient-root study retrieves without it).
 */
function missingUniqueKey(ds: Dataset, level: Level): string | undefined {
  for (const tag of uniqueKeys(level, "study")) {
    const v = (ds.string(tag) ?? "").trim();
    if (v === "" || /[*?]/.test(v)) return FIELDS.find(([, t]) => t === tag)![0];
  }
  return undefined;
}

export async function* requestSource(
  o: RequestSourceOptions,
): AsyncGenerator<RetrieveRequest | FilterRow> {
  if (o.input === undefined) {
    // DCMTK: one request per query file, else one from the -k keys; sent as given.
    const datasets: Array<{ ds: Dataset; where: string }> = [];
    if (o.files.length)
      for (const f of o.files) datasets.push({ ds: await readQueryFile(f), where: f });
    else datasets.push({ ds: new Dataset(), where: "-k keys" });
    for (const { ds, where } of datasets) {
      for (const k of o.keys) applyKey(ds, k);
      const level = inferLevel(ds, o.defaultLevel);
      if (!level)
        throw new UsageError(
          `${where}: no QueryRetrieveLevel (give -k QueryRetrieveLevel=STUDY or similar)`,
        );
      if (!ds.has(Tags.QueryRetrieveLevel)) ds.setString(Tags.QueryRetrieveLevel, "CS", level);
      const missing = missingUniqueKey(ds, level);
      if (missing)
        throw new UsageError(
          `${where}: a ${level}-level retrieve needs ${missing} (give -k ${missing}=<uid>); without it the peer selects nothing or everything`,
        );
      yield {
        where,
        record: datasetToFlat(ds),
        identifier: ds,
        key: requestKey(level, ds),
        uids: uidsOf(ds),
      };
    }
    return;
  }
  let header: Map<string, string | undefined> | undefined;
  const onHeader = (cols: string[], name: string) => {
    o.onColumns?.(cols);
    header = new Map();
    for (const c of cols) {
      const m = mapColumn(c);
      if (m.kind === "unknown")
        throw new InputError(name, 1, unknownName("column", c, m.suggestion));
      header.set(
        c,
        m.kind === "keyword"
          ? m.keyword
          : m.kind === "tag"
            ? m.key
            : m.kind === "query"
              ? "query"
              : undefined,
      );
    }
  };
  yield* batchInput(
    o.input,
    o.stdin(),
    { onHeader, keepGoing: o.keepGoing, onInvalid: o.onInvalid, shard: o.shard, table: o.table },
    (record, line, name) => recordRequest(record, header, o, name, line),
  );
}

/**
 * How many requests the run will send (the same rows: shard applied,
 * invalid ones left out), from a second reading of the query files or the
 * input file alongside the run, for the progress line's total and ETA.
 * Undefined for stdin, which can be read only once, and for input the run
 * itself will reject.
 */
export async function countRequests(o: RequestSourceOptions): Promise<number | undefined> {
  if (o.input === "-") return undefined;
  let n = 0;
  try {
    for await (const _ of requestSource({ ...o, keepGoing: true, onInvalid: () => undefined })) n++;
  } catch {
    return undefined;
  }
  return n;
}

/** The record fields a retrieve identifier is made from. */
const FIELDS = [
  ["PatientID", Tags.PatientID, "LO"],
  ["StudyInstanceUID", Tags.StudyInstanceUID, "UI"],
  ["SeriesInstanceUID", Tags.SeriesInstanceUID, "UI"],
  ["SOPInstanceUID", Tags.SOPInstanceUID, "UI"],
  ["QueryRetrieveLevel", Tags.QueryRetrieveLevel, "CS"],
] as const;

function recordRequest(
  raw: FlatRecord,
  header: Map<string, string | undefined> | undefined,
  o: RequestSourceOptions,
  name: string,
  line: number,
): RetrieveRequest | FilterRow {
  // Normalise table rows to keyword records; NDJSON records are used as they are.
  let record: FlatRecord = raw;
  if (header) {
    record = {};
    for (const [col, key] of header) {
      const v = String(raw[col] ?? "").trim();
      if (key && v !== "") record[key] = v;
    }
  }
  const text = (k: string): string | undefined => {
    const v = record[k];
    if (v === null || v === undefined) return undefined;
    return Array.isArray(v) ? v.join("\\") : String(v);
  };
  const full = new Dataset();
  for (const [k, tag, vr] of FIELDS) {
    const v = text(k);
    if (v === undefined) continue;
    if (vr === "UI") {
      try {
        validateUidQuery(k, v);
      } catch (e) {
        if (e instanceof ValueError) throw new InputError(name, line, e.message);
      }
    }
    full.setString(tag, vr, v);
  }
  // Table columns were checked in the header; NDJSON keys are checked here (query and metadata keys map too).
  if (!header) {
    for (const k of Object.keys(record)) {
      const m = mapColumn(k);
      if (m.kind === "unknown" && k !== "_vrMap")
        throw new InputError(name, line, unknownName("key", k, m.suggestion));
    }
  }
  const id = record.query;
  const row: InputRow = {
    cells: raw,
    line,
    id: typeof id === "string" || typeof id === "number" ? id : line,
  };
  const asked = (text("QueryRetrieveLevel") ?? "").toUpperCase();
  let plan: ResolvePlan | undefined;
  try {
    plan = resolvePlan(
      record,
      (LEVELS as readonly string[]).includes(asked) ? (asked as Level) : o.defaultLevel,
      o.model,
    );
  } catch (e) {
    if (e instanceof ValueError) throw new InputError(name, line, e.message);
    throw e;
  }
  if (plan) {
    if (o.resolve === "never")
      throw new InputError(
        name,
        line,
        `${plan.filters[0]!.keyword} is not a unique key of the ${plan.level} level: a retrieve would ignore it (--resolve never; --resolve auto finds the matches by C-FIND first)`,
      );
    return { where: `${name}:${line}`, record, plan, row };
  }
  const level = inferLevel(full, o.defaultLevel);
  if (!level)
    throw new InputError(
      name,
      line,
      "no QueryRetrieveLevel, no UIDs and no PatientID: nothing says what to retrieve (use --level)",
    );
  const identifier = new Dataset();
  identifier.setString(Tags.QueryRetrieveLevel, "CS", level);
  for (const tag of uniqueKeys(level, o.model)) {
    const el = full.get(tag);
    if (!el?.value || el.value.length === 0) {
      const kw = FIELDS.find(([, t]) => t === tag)![0];
      throw new InputError(
        name,
        line,
        `a ${level}-level retrieve${o.model === "patient" && tag === Tags.PatientID ? " in the patient root model" : ""} needs ${kw}`,
      );
    }
    identifier.set(el);
  }
  for (const k of o.keys) applyKey(identifier, k);
  const expectedRaw =
    level === "SERIES"
      ? record.NumberOfSeriesRelatedInstances
      : level === "STUDY"
        ? record.NumberOfStudyRelatedInstances
        : level === "IMAGE"
          ? 1
          : undefined;
  const expected =
    typeof expectedRaw === "number"
      ? expectedRaw
      : typeof expectedRaw === "string" && /^\d+$/.test(expectedRaw)
        ? Number(expectedRaw)
        : undefined;
  return {
    where: `${name}:${line}`,
    record,
    identifier,
    key: requestKey(level, identifier),
    expected,
    uids: uidsOf(identifier),
    row,
  };
}

/**
 * The retrieve of one match of a filter row: at the row's level, by the
 * match's unique keys; its record is the row's `query` id and keys with
 * the match's UIDs.
 */
export function matchRequest(
  f: FilterRow,
  uids: Record<string, string>,
  o: RequestSourceOptions,
): RetrieveRequest {
  const name = f.where.slice(0, f.where.lastIndexOf(":"));
  const req = recordRequest(
    { ...uids, QueryRetrieveLevel: f.plan.level },
    undefined,
    { ...o, resolve: "never" },
    name,
    f.row.line,
  ) as RetrieveRequest;
  return { ...req, record: { query: f.row.id, ...f.record, ...uids }, row: f.row };
}
