/**
 * Filter tables for retrieval: a row that says *which* studies or series
 * by other keys than their UIDs (PatientID + StudyDate, AccessionNumber +
 * Modality) is resolved by C-FIND into the unique keys of each match, so a
 * retrieve never fetches more than the row asked for. A C-MOVE or C-GET
 * identifier carries only unique keys (PS3.4 C.4.2.2.1): any other key
 * would be ignored by the peer and widen the retrieve to the whole patient
 * or study.
 *
 * The queries descend the hierarchy one level at a time (PS3.4 C.4.1.3.1
 * hierarchical search, which every archive supports), each with the keys
 * of its level and the unique keys of the match above. The network is the
 * caller's: `resolveMatches` takes a function that runs one C-FIND.
 */
import type { Dataset } from "../dicom/dataset.js";
import { lookupKeyword, parseTagHex } from "../dicom/dict.js";
import type { QueryModel } from "../dicom/uid.js";
import { type FlatRecord, isMetadataKey, recordToDataset } from "./flat.js";
import { validateQueryValue } from "./validate.js";
import {
  attributeLevel,
  isResponseOnly,
  keyAllowedAt,
  levelDepth,
  levelsOf,
  ownLevel,
  type QueryLevel,
  uniqueKeyOf,
} from "./levels.js";

const UNIQUE_KEYWORDS: Record<QueryLevel, string> = {
  PATIENT: "PatientID",
  STUDY: "StudyInstanceUID",
  SERIES: "SeriesInstanceUID",
  IMAGE: "SOPInstanceUID",
};
const LEVELS: QueryLevel[] = ["PATIENT", "STUDY", "SERIES", "IMAGE"];

/** Keys that are never matching keys: counts and the query's own parameters. */
const NOT_FILTERS = new Set([
  "QueryRetrieveLevel",
  "SpecificCharacterSet",
  "NumberOfPatientRelatedStudies",
  "NumberOfPatientRelatedSeries",
  "NumberOfPatientRelatedInstances",
  "NumberOfStudyRelatedSeries",
  "NumberOfStudyRelatedInstances",
  "NumberOfSeriesRelatedInstances",
  "ModalitiesInStudy",
  "SOPClassesInStudy",
]);

export interface FilterKey {
  keyword: string;
  tag: number;
  /** The value as a query value (multiple values joined with `\`). */
  value: string;
}

export interface ResolvePlan {
  /** The level retrieved: the level asked, else the lowest level the filter keys imply. */
  level: QueryLevel;
  /** The levels queried, top down. */
  steps: QueryLevel[];
  /** Unique keys the row gives (its UIDs, its PatientID). */
  known: Record<string, string>;
  /** Keys the row's UIDs do not imply: each is a matching key of a C-FIND. */
  filters: FilterKey[];
}

function text(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (!v.every((x) => typeof x === "string" || typeof x === "number")) return undefined;
    return v.join("\\").trim() || undefined;
  }
  if (typeof v === "string" || typeof v === "number") return String(v).trim() || undefined;
  return undefined;
}

/**
 * The plan to resolve a row, or undefined when its UIDs say everything
 * (no filter key). A key is a filter when it has a value, is an attribute
 * a C-FIND can match on, and lies below the deepest unique key the row
 * gives (a study's StudyDate beside its StudyInstanceUID is implied by the
 * UID: findscu-ts records are retrieved as they are); with no unique key
 * at all, every such key is a filter, attributes of no known level too.
 * Comparing `ModalitiesInStudy` or counts is left out: they are return keys.
 * A filter's value is checked as a query value (a ValueError names the key):
 * `31/01/2024` is no date, and an archive would match nothing with it.
 */
export function resolvePlan(
  record: FlatRecord,
  asked: QueryLevel | undefined,
  model: QueryModel,
): ResolvePlan | undefined {
  const known: Record<string, string> = {};
  let anchor = -1;
  for (const level of LEVELS) {
    const v = text(record[UNIQUE_KEYWORDS[level]]);
    if (v === undefined || /[*?]/.test(v)) continue;
    known[UNIQUE_KEYWORDS[level]] = v;
    anchor = Math.max(anchor, levelDepth(level));
  }
  const filters: FilterKey[] = [];
  let lowest = -1;
  for (const [k, raw] of Object.entries(record)) {
    if (isMetadataKey(k) || NOT_FILTERS.has(k) || k in UNIQUE_KEYWORDS_SET) continue;
    const tag = lookupKeyword(k)?.tag ?? parseTagHex(k);
    if (tag === undefined || isResponseOnly(tag)) continue;
    const value = text(raw);
    if (value === undefined) continue;
    const own = ownLevel(tag);
    if (anchor >= 0 && (own === undefined || levelDepth(own) <= anchor)) continue;
    const entry = lookupKeyword(k);
    if (entry) validateQueryValue(entry.keyword, entry.vr, value);
    filters.push({ keyword: entry?.keyword ?? k.toUpperCase(), tag, value });
    const at = attributeLevel(tag, model);
    if (at) lowest = Math.max(lowest, levelDepth(at));
  }
  if (filters.length === 0) return undefined;
  const top = levelsOf(model)[0]!;
  const level = asked ?? (lowest >= 0 ? LEVELS[lowest]! : anchor >= 0 ? LEVELS[anchor]! : top);
  const deepest = Math.max(levelDepth(level), lowest, levelDepth(top));
  const first = Math.max(levelDepth(top), anchor + 1);
  const steps = LEVELS.slice(Math.min(first, deepest), deepest + 1);
  return { level, steps, known, filters };
}

const UNIQUE_KEYWORDS_SET: Record<string, true> = Object.fromEntries(
  Object.values(UNIQUE_KEYWORDS).map((k) => [k, true]),
);

/** The C-FIND identifier of one step: the step's filters, the unique keys above, the keys to return. */
export function stepIdentifier(
  plan: ResolvePlan,
  step: QueryLevel,
  parent: Record<string, string>,
  model: QueryModel,
): Dataset {
  const last = step === plan.steps[plan.steps.length - 1];
  const rec: FlatRecord = { QueryRetrieveLevel: step };
  for (const [k, v] of Object.entries(parent)) {
    if (keyAllowedAt(lookupKeyword(k)!.tag, step, model)) rec[k] = v;
  }
  for (const f of plan.filters) {
    const at = attributeLevel(f.tag, model);
    if (at === step || (at === undefined && last)) rec[f.keyword] = f.value;
  }
  // Return keys: this level's unique key, and the patient's at the level that holds it.
  const unique = UNIQUE_KEYWORDS[step];
  if (!(unique in rec)) rec[unique] = null;
  if (!("PatientID" in rec) && keyAllowedAt(uniqueKeyOf("PATIENT"), step, model))
    rec.PatientID = null;
  return recordToDataset(rec);
}

/** A match that cannot name what to retrieve: its unique key is missing, a wildcard or several values. */
export class MatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MatchError";
  }
}

/** A C-FIND: the identifiers of its matches (throws when the query failed). */
export type RunFind = (identifier: Dataset) => Promise<Dataset[]>;

/**
 * The unique keys of each match at the plan's retrieve level, each once
 * (a study with two matching series is one study). Queries run one at a
 * time: a level's matches are collected before the level below is asked.
 */
export async function* resolveMatches(
  plan: ResolvePlan,
  model: QueryModel,
  find: RunFind,
): AsyncGenerator<Record<string, string>> {
  const seen = new Set<string>();
  const keep = LEVELS.slice(0, levelDepth(plan.level) + 1).map((l) => UNIQUE_KEYWORDS[l]);
  async function* descend(
    i: number,
    parent: Record<string, string>,
  ): AsyncGenerator<Record<string, string>> {
    if (i === plan.steps.length) {
      const out: Record<string, string> = {};
      for (const k of keep) if (parent[k] !== undefined) out[k] = parent[k]!;
      const id = JSON.stringify(out);
      if (!seen.has(id)) {
        seen.add(id);
        yield out;
      }
      return;
    }
    const step = plan.steps[i]!;
    const matches = await find(stepIdentifier(plan, step, parent, model));
    for (const ds of matches) {
      const child = { ...parent };
      // Values from the network name what is retrieved next: one value, no wildcard, or nothing is.
      for (const k of ["PatientID", UNIQUE_KEYWORDS[step]]) {
        const v = ds.string(lookupKeyword(k)!.tag)?.trim();
        if (!v) continue;
        if (/[*?\\]/.test(v))
          throw new MatchError(
            `the archive answered a ${step} match with ${k} ${JSON.stringify(v)}: not one value`,
          );
        child[k] = v;
      }
      if (!child[UNIQUE_KEYWORDS[step]])
        throw new MatchError(
          `the archive answered a ${step} match without ${UNIQUE_KEYWORDS[step]}`,
        );
      yield* descend(i + 1, child);
    }
  }
  yield* descend(0, plan.known);
}
