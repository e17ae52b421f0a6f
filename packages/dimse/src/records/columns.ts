/**
 * Column headers of query tables (CSV/TSV/NDJSON keys): DICOM keywords,
 * common aliases used in spreadsheets, and the query-identifier column.
 */
import { allKeywords, lookupKeyword, parseTagHex } from "../dicom/dict.js";
import { isMetadataKey } from "./flat.js";

/** Aliases, matched case-insensitively with spaces, `_` and `-` ignored. */
const ALIASES: Record<string, string> = {
  accession: "AccessionNumber",
  accessionnumber: "AccessionNumber",
  accessionno: "AccessionNumber",
  "accession#": "AccessionNumber",
  acc: "AccessionNumber",
  mrn: "PatientID",
  patientid: "PatientID",
  patid: "PatientID",
  patientname: "PatientName",
  name: "PatientName",
  birthdate: "PatientBirthDate",
  dob: "PatientBirthDate",
  dateofbirth: "PatientBirthDate",
  patientbirthdate: "PatientBirthDate",
  date: "StudyDate",
  studydate: "StudyDate",
  dateofstudy: "StudyDate",
  time: "StudyTime",
  studytime: "StudyTime",
  timeofstudy: "StudyTime",
  studyuid: "StudyInstanceUID",
  studyinstanceuid: "StudyInstanceUID",
  seriesuid: "SeriesInstanceUID",
  seriesinstanceuid: "SeriesInstanceUID",
  sopinstanceuid: "SOPInstanceUID",
  instanceuid: "SOPInstanceUID",
  mod: "Modality",
  modality: "Modality",
  modalities: "ModalitiesInStudy",
  description: "StudyDescription",
  studydescription: "StudyDescription",
  seriesdescription: "SeriesDescription",
  seriesnumber: "SeriesNumber",
  studyid: "StudyID",
  level: "QueryRetrieveLevel",
  institution: "InstitutionName",
  institutionname: "InstitutionName",
};

/** Headers that name the query identifier column. */
const QUERY_COLUMNS = new Set(["query", "id", "index", "queryid", "querynumber", "queryno"]);

export type ColumnMapping =
  | { kind: "keyword"; keyword: string }
  | { kind: "tag"; key: string }
  | { kind: "query" }
  | { kind: "metadata"; key: string }
  | { kind: "unknown"; suggestion?: string };

function squash(s: string): string {
  return s.toLowerCase().replace(/[\s_\-.]+/g, "");
}

/** `unknown column "X" (did you mean "Y"?)` for a name `mapColumn` does not know. */
export function unknownName(
  what: "column" | "key" | "peer",
  name: string,
  suggestion?: string,
): string {
  return `unknown ${what} "${name}"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`;
}

export function mapColumn(header: string): ColumnMapping {
  const h = header.trim();
  if (lookupKeyword(h)) return { kind: "keyword", keyword: lookupKeyword(h)!.keyword };
  if (parseTagHex(h) !== undefined) return { kind: "tag", key: h.toUpperCase() };
  const sq = squash(h);
  if (QUERY_COLUMNS.has(sq)) return { kind: "query" };
  if (isMetadataKey(h)) return { kind: "metadata", key: h };
  // Aliases are written with spaces or other case; a keyword typed in the
  // wrong case is reported, as DICOM keywords are case-sensitive.
  const alias = ALIASES[sq];
  if (
    alias &&
    /[\s_\-.]/.test(h) === false &&
    h.toLowerCase() === alias.toLowerCase() &&
    h !== alias
  ) {
    return { kind: "unknown", suggestion: alias };
  }
  if (alias) return { kind: "keyword", keyword: alias };
  return { kind: "unknown", suggestion: nearestKeyword(h) };
}

let lowerIndex: Array<[string, string]> | undefined;

/** The keyword closest to `s` (case-insensitive edit distance), if reasonably close. */
export function nearestKeyword(s: string): string | undefined {
  lowerIndex ??= allKeywords().map((k) => [k.toLowerCase(), k]);
  return nearestIn(s, lowerIndex);
}

/**
 * The name among `names` that `s` most likely means: one that `mapColumn`
 * maps to the same keyword (`Institution` for `InstitutionName`), else the
 * closest non-keyword by case-insensitive edit distance, if reasonably close.
 */
export function nearestName(s: string, names: Iterable<string>): string | undefined {
  const list = [...names];
  const same = list.find((n) => {
    const m = mapColumn(n);
    return m.kind === "keyword" ? m.keyword === s : m.kind === "unknown" && m.suggestion === s;
  });
  // Another attribute's keyword is that attribute, not a misspelling.
  const others = list.filter((n) => !lookupKeyword(n));
  return (
    same ??
    nearestIn(
      s,
      others.map((n) => [n.toLowerCase().replace(/[\s_-]+/g, ""), n]),
    )
  );
}

function nearestIn(s: string, index: Array<[string, string]>): string | undefined {
  const target = s.toLowerCase().replace(/[\s_-]+/g, "");
  let best: string | undefined;
  let bestD = Infinity;
  for (const [low, k] of index) {
    if (Math.abs(low.length - target.length) >= bestD) continue;
    const d = distance(low, target, bestD);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(target.length / 3))
    ? best
    : undefined;
}

function distance(a: string, b: string, limit: number): number {
  const m = a.length;
  const n = b.length;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    let rowMin = cur[0]!;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (cur[j]! < rowMin) rowMin = cur[j]!;
    }
    if (rowMin >= limit) return limit;
    [prev, cur] = [cur, prev];
  }
  return prev[n]!;
}
