/**
 * Which query/retrieve level an attribute belongs to (PS3.4 C.6.1.1
 * Patient Root and C.6.2.1 Study Root key tables, with the common
 * optional keys of each level's modules). In the Study Root model the
 * patient attributes are keys of the STUDY level. Attributes not listed
 * here belong to no known level: callers keep them.
 */
import { lookupKeyword } from "../dicom/dict.js";
import type { QueryModel } from "../dicom/uid.js";

export type QueryLevel = "PATIENT" | "STUDY" | "SERIES" | "IMAGE";

const PATIENT = [
  "PatientName",
  "PatientID",
  "IssuerOfPatientID",
  "IssuerOfPatientIDQualifiersSequence",
  "OtherPatientIDsSequence",
  "ReferencedPatientSequence",
  "PatientBirthDate",
  "PatientBirthTime",
  "PatientSex",
  "OtherPatientIDs",
  "OtherPatientNames",
  "PatientBirthName",
  "PatientMotherBirthName",
  "EthnicGroup",
  "PatientComments",
  "PatientSpeciesDescription",
  "PatientBreedDescription",
  "ResponsiblePerson",
  "ResponsibleOrganization",
  "NumberOfPatientRelatedStudies",
  "NumberOfPatientRelatedSeries",
  "NumberOfPatientRelatedInstances",
];
const STUDY = [
  "StudyDate",
  "StudyTime",
  "AccessionNumber",
  "IssuerOfAccessionNumberSequence",
  "StudyID",
  "StudyInstanceUID",
  "ModalitiesInStudy",
  "SOPClassesInStudy",
  "AnatomicRegionsInStudyCodeSequence",
  "ReferringPhysicianName",
  "StudyDescription",
  "ProcedureCodeSequence",
  "NameOfPhysiciansReadingStudy",
  "PhysiciansOfRecord",
  "AdmittingDiagnosesDescription",
  "ReferencedStudySequence",
  "PatientAge",
  "PatientSize",
  "PatientWeight",
  "Occupation",
  "AdditionalPatientHistory",
  "OtherStudyNumbers",
  "InterpretationAuthor",
  "NumberOfStudyRelatedSeries",
  "NumberOfStudyRelatedInstances",
];
const SERIES = [
  "Modality",
  "SeriesNumber",
  "SeriesInstanceUID",
  "NumberOfSeriesRelatedInstances",
  "SeriesDescription",
  "SeriesDate",
  "SeriesTime",
  "BodyPartExamined",
  "ProtocolName",
  "Laterality",
  "PerformedProcedureStepStartDate",
  "PerformedProcedureStepStartTime",
  "RequestAttributesSequence",
  "PerformingPhysicianName",
  "OperatorsName",
];
const IMAGE = [
  "SOPInstanceUID",
  "SOPClassUID",
  "InstanceNumber",
  "ImageType",
  "ContentDate",
  "ContentTime",
  "AcquisitionDate",
  "AcquisitionTime",
  "AcquisitionDateTime",
  "AcquisitionNumber",
  "ImageComments",
  "NumberOfFrames",
  "Rows",
  "Columns",
  "AvailableTransferSyntaxUID",
  "ConceptNameCodeSequence",
  "ContentTemplateSequence",
  "AlternateRepresentationSequence",
];

/** Attributes only ever returned in C-FIND responses, keys of no level (PS3.4 C.4.1.1.3.2). */
const RESPONSE_ONLY = [
  "RetrieveAETitle",
  "InstanceAvailability",
  "StorageMediaFileSetID",
  "StorageMediaFileSetUID",
  "RetrieveURL",
];

function tags(keywords: string[]): number[] {
  return keywords.map((k) => {
    const e = lookupKeyword(k);
    if (!e) throw new Error(`levels: ${k} is not in the dictionary`);
    return e.tag;
  });
}

const ORDER: QueryLevel[] = ["PATIENT", "STUDY", "SERIES", "IMAGE"];

interface LevelTables {
  levelOf: Map<number, QueryLevel>;
  responseOnly: Set<number>;
  unique: Record<QueryLevel, number>;
}
let built: LevelTables | undefined;

/** The tables by tag, built on first use (they need the dictionary, which --help does not). */
function levelTables(): LevelTables {
  if (built) return built;
  const levelOf = new Map<number, QueryLevel>();
  for (const [level, list] of [
    ["PATIENT", PATIENT],
    ["STUDY", STUDY],
    ["SERIES", SERIES],
    ["IMAGE", IMAGE],
  ] as const) {
    for (const t of tags(list)) levelOf.set(t, level);
  }
  built = {
    levelOf,
    responseOnly: new Set(tags(RESPONSE_ONLY)),
    unique: {
      PATIENT: tags(["PatientID"])[0]!,
      STUDY: tags(["StudyInstanceUID"])[0]!,
      SERIES: tags(["SeriesInstanceUID"])[0]!,
      IMAGE: tags(["SOPInstanceUID"])[0]!,
    },
  };
  return built;
}

/** The level an attribute is a key of in `model` (undefined: not a known key of any level). */
export function attributeLevel(tag: number, model: QueryModel): QueryLevel | undefined {
  const level = levelTables().levelOf.get(tag);
  // Study Root has no PATIENT level: the patient's attributes are study keys (PS3.4 C.6.2.1).
  if (level === "PATIENT" && model !== "patient" && model !== "psonly") return "STUDY";
  return level;
}

/**
 * May `tag` be a key of a query at `level`? Yes for the level's own
 * attributes, the unique keys of the levels above it (in the model's
 * hierarchy), and attributes of no known level; no for attributes
 * known to belong to another level, and for response-only attributes
 * (Retrieve AE Title, Instance Availability…).
 */
export function keyAllowedAt(tag: number, level: QueryLevel, model: QueryModel): boolean {
  const { responseOnly, unique } = levelTables();
  if (responseOnly.has(tag)) return false;
  const own = attributeLevel(tag, model);
  if (own === undefined || own === level) return true;
  const top = model === "patient" || model === "psonly" ? 0 : 1;
  const above = ORDER.slice(top, ORDER.indexOf(level));
  return above.some((l) => unique[l] === tag);
}

/** The level an attribute belongs to in the Patient Root hierarchy (undefined: no known level). */
export function ownLevel(tag: number): QueryLevel | undefined {
  return levelTables().levelOf.get(tag);
}

/** Is `tag` an attribute only returned in responses (Retrieve AE Title, Instance Availability…)? */
export function isResponseOnly(tag: number): boolean {
  return levelTables().responseOnly.has(tag);
}

/** The levels from the top of `model`'s hierarchy down. */
export function levelsOf(model: QueryModel): QueryLevel[] {
  return model === "patient" || model === "psonly" ? [...ORDER] : ORDER.slice(1);
}

/** The unique key of a level (PS3.4 C.6.1.1.5). */
export function uniqueKeyOf(level: QueryLevel): number {
  return levelTables().unique[level];
}

/** Levels ordered from PATIENT (0) to IMAGE (3). */
export function levelDepth(level: QueryLevel): number {
  return ORDER.indexOf(level);
}
