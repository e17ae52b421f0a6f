/**
 * Where queries come from: DCMTK query files, batch tables (CSV/TSV/NDJSON,
 * one query per row) or the `-k` keys alone. Every query gets the `-k`
 * keys applied last, as DCMTK applies them to each query file.
 */
import type { Readable } from "node:stream";
import { Dataset, Tags, describeTag, lookupTag, type QueryModel } from "@dicom-pipes/dimse/dicom";
import {
  applyKey,
  keyAllowedAt,
  mapColumn,
  recordToDataset,
  RecordError,
  unknownName,
  validateQueryValue,
  ValueError,
  type FlatRecord,
  type ParsedKey,
  type QueryLevel,
  type Shard,
} from "@dicom-pipes/dimse/records";
import { batchInput, InputError, type TableOptions } from "@dicom-pipes/dimse/io";
import { readQueryFile } from "@dicom-pipes/dimse/cli";

export interface Query {
  /** Value of the output `query` field (undefined for a single -k query). */
  id?: string | number;
  dataset: Dataset;
  /** Where the query came from, for messages. */
  where: string;
  /** A table row: its cells as read, its line, its values by keyword. */
  row?: { cells: FlatRecord; line: number; values: FlatRecord };
}

export interface QuerySourceOptions {
  keys: ParsedKey[];
  files: string[];
  /** Batch table path (`-` for stdin), if any. */
  table?: string;
  /** stdin, asked for only when the table is `-` (Node makes process.stdin on first use). */
  stdin: () => Readable;
  /** Level for rows without QueryRetrieveLevel (undefined: worklist, no level). */
  defaultLevel?: string;
  keepGoing: boolean;
  /** Only the rows of this shard (`--shard K/N`). */
  shard?: Shard;
  /** Called for each skipped invalid row with --keep-going. */
  onInvalid?: (err: InputError) => void;
  /** The information model: which keys belong to which level. */
  model: QueryModel;
  /** Called with the keys of a row that were dropped as keys of another level. */
  onDropped?: (where: string, keywords: string[]) => void;
  /** `--sheet`, `--normalize`. */
  tableOptions?: TableOptions;
  /** The CSV/TSV header, as read. */
  onColumns?: (columns: string[]) => void;
}

function applyKeys(ds: Dataset, keys: ParsedKey[]): void {
  for (const k of keys) applyKey(ds, k);
}

/**
 * `-k` keys on a table row. `-k Key=value` overrides the row. A bare
 * `-k Key` (a return key) leaves a value the row gives for a key of the
 * query's level, which it would otherwise turn into a match of everything
 * (`-k AccessionNumber` beside an AccessionNumber column); a row value of
 * another level becomes the return key asked for.
 */
function applyKeysToRow(ds: Dataset, o: QuerySourceOptions): void {
  for (const k of o.keys) if (k.value !== undefined) applyKey(ds, k);
  withLevel(ds, o.defaultLevel);
  const level = (ds.string(Tags.QueryRetrieveLevel) ?? "").trim().toUpperCase();
  const known =
    o.model !== "worklist" &&
    (["PATIENT", "STUDY", "SERIES", "IMAGE"] as const).includes(level as QueryLevel);
  for (const k of o.keys) {
    if (k.value !== undefined) continue;
    const step = k.path.length === 1 && k.path[0]!.item === undefined ? k.path[0]! : undefined;
    const given = step ? ds.get(step.tag) : undefined;
    const hasValue =
      given !== undefined && ((given.value?.length ?? 0) > 0 || (given.items?.length ?? 0) > 0);
    if (hasValue && (!known || keyAllowedAt(step!.tag, level as QueryLevel, o.model))) continue;
    applyKey(ds, k);
  }
}

function withLevel(ds: Dataset, level: string | undefined): Dataset {
  if (level && !ds.has(Tags.QueryRetrieveLevel)) ds.setString(Tags.QueryRetrieveLevel, "CS", level);
  return ds;
}

export async function* querySource(o: QuerySourceOptions): AsyncGenerator<Query> {
  if (o.files.length) {
    for (const f of o.files) {
      const ds = await readQueryFile(f);
      applyKeys(ds, o.keys);
      yield { id: f, dataset: withLevel(ds, undefined), where: f };
    }
    return;
  }
  if (o.table !== undefined) {
    yield* tableQueries(o);
    return;
  }
  const ds = new Dataset();
  applyKeys(ds, o.keys);
  yield { dataset: withLevel(ds, o.defaultLevel), where: "-k keys" };
}

function tableQueries(o: QuerySourceOptions): AsyncGenerator<Query> {
  let columns:
    | Map<string, { keyword?: string; tag?: string; query?: boolean; metadata?: boolean }>
    | undefined;
  const onHeader = (header: string[], name: string) => {
    o.onColumns?.(header);
    columns = new Map();
    for (const h of header) {
      const m = mapColumn(h);
      if (m.kind === "unknown")
        throw new InputError(
          name,
          1,
          `${unknownName("column", h, m.suggestion)}: columns must be DICOM keywords, 8-digit tags, or Query/ID/Index`,
        );
      columns.set(
        h,
        m.kind === "keyword"
          ? { keyword: m.keyword }
          : m.kind === "tag"
            ? { tag: m.key }
            : m.kind === "query"
              ? { query: true }
              : { metadata: true },
      );
    }
  };
  return batchInput(
    o.table!,
    o.stdin(),
    {
      onHeader,
      keepGoing: o.keepGoing,
      onInvalid: o.onInvalid,
      shard: o.shard,
      table: o.tableOptions,
    },
    (record, line, name) => {
      const { flat, id } = columns
        ? fromTableRow(record, columns)
        : fromJsonRecord(record, name, line);
      const ds = rowDataset(flat, name, line);
      applyKeysToRow(ds, o);
      const dropped = dropOtherLevels(ds, o);
      if (dropped.length) o.onDropped?.(`${name}:${line}`, dropped);
      const values: FlatRecord = {};
      for (const [k, v] of Object.entries(flat)) if (v !== null && v !== "") values[k] = v;
      return {
        id: id ?? line,
        dataset: ds,
        where: `${name}:${line}`,
        row: { cells: record, line, values },
      };
    },
  );
}

/**
 * Remove a row's keys that belong to another level than the query's
 * (study records fed as series queries carry AccessionNumber, StudyDate…,
 * which strict archives refuse at SERIES level); the unique keys of the
 * levels above stay, and so does every key given with -k.
 */
function dropOtherLevels(ds: Dataset, o: QuerySourceOptions): string[] {
  const level = (ds.string(Tags.QueryRetrieveLevel) ?? "").trim().toUpperCase();
  if (
    o.model === "worklist" ||
    !(["PATIENT", "STUDY", "SERIES", "IMAGE"] as const).includes(level as QueryLevel)
  )
    return [];
  const explicit = new Set(o.keys.map((k) => k.path[0]!.tag));
  const dropped: string[] = [];
  for (const el of [...ds.elements]) {
    if (
      el.tag === Tags.QueryRetrieveLevel ||
      el.tag === Tags.SpecificCharacterSet ||
      explicit.has(el.tag)
    )
      continue;
    if (keyAllowedAt(el.tag, level as QueryLevel, o.model)) continue;
    ds.delete(el.tag);
    dropped.push(lookupTag(el.tag)?.keyword ?? el.tag.toString(16).padStart(8, "0").toUpperCase());
  }
  return dropped;
}

function fromTableRow(
  row: FlatRecord,
  columns: Map<string, { keyword?: string; tag?: string; query?: boolean; metadata?: boolean }>,
): { flat: FlatRecord; id?: string } {
  const flat: FlatRecord = {};
  let id: string | undefined;
  for (const [h, m] of columns) {
    const v = String(row[h] ?? "");
    if (m.query) {
      if (v.trim() !== "") id = v.trim();
    } else if (m.keyword || m.tag) {
      flat[m.keyword ?? m.tag!] = v === "" ? null : v;
    }
  }
  return { flat, id };
}

function fromJsonRecord(
  rec: FlatRecord,
  name: string,
  line: number,
): { flat: FlatRecord; id?: string | number } {
  const flat: FlatRecord = {};
  let id: string | number | undefined;
  for (const [k, v] of Object.entries(rec)) {
    if (k === "query" || k === "Query" || k === "ID" || k === "Index") {
      if (typeof v === "string" || typeof v === "number") id = v;
      continue;
    }
    const m = mapColumn(k);
    if (m.kind === "keyword") flat[m.keyword] = v;
    else if (m.kind === "tag") flat[m.key] = v;
    else if (m.kind === "metadata" || m.kind === "query") continue;
    else if (k === "_vrMap") continue;
    else
      throw new InputError(
        name,
        line,
        `${unknownName("key", k, m.suggestion)}: keys must be DICOM keywords, 8-digit tags, or query`,
      );
  }
  return { flat, id };
}

/** Build and validate the dataset of one batch row. */
function rowDataset(flat: FlatRecord, name: string, line: number): Dataset {
  let ds: Dataset;
  try {
    ds = recordToDataset(flat);
  } catch (e) {
    if (e instanceof RecordError) throw new InputError(name, line, e.message);
    throw e;
  }
  for (const el of ds.elements) {
    if (el.items || !el.value || el.tag === Tags.SpecificCharacterSet) continue;
    const entry = lookupTag(el.tag) ?? describeTag(el.tag);
    const field = entry?.keyword || el.tag.toString(16).padStart(8, "0").toUpperCase();
    const value = ds.string(el.tag) ?? "";
    try {
      validateQueryValue(field, el.vr, value);
    } catch (e) {
      if (e instanceof ValueError) throw new InputError(name, line, e.message);
      throw e;
    }
  }
  return ds;
}
