/** findscu-ts command line: DCMTK findscu's options plus the NDJSON/batch ones. */
import {
  generalOptions,
  recordFormatOptions,
  retryOptions,
  scuNetworkOptions,
  shardOption,
  tableOptions,
  type TableInputOptions,
  OUTPUT,
  NETWORK,
} from "@dicom-pipes/dimse/cli";
import {
  pacingOptions,
  type GeneralOptions,
  type OptionTable,
  type OutputOptions,
  type PacingOptions,
  type ScuNetworkOptions,
  type UncompressedProposal,
} from "@dicom-pipes/dimse/app";
import type { QueryModel } from "@dicom-pipes/dimse/dicom";

/** Every option findscu-ts reads, typed. */
export interface FindOptions
  extends GeneralOptions,
    ScuNetworkOptions,
    OutputOptions,
    PacingOptions,
    TableInputOptions {
  repeat?: number;
  abortAssoc?: boolean;
  cancel?: number;
  model?: QueryModel;
  key?: string[];
  proposal?: UncompressedProposal;
  queries?: string;
  level?: string;
  splitDates?: boolean;
  maxResults?: number;
  jsonModel?: boolean;
  bulk?: string;
  showResponses?: boolean;
  extract?: boolean;
  outputDirectory?: string;
  limitOutput?: number;
}

const QUERY = "query information model";
const QUERYKEYS = "query keys";
const TS = "transfer syntaxes";
const BATCH = "batch queries";
const EXTRACT = "extraction (DCMTK compatible)";

export const OPTIONS: OptionTable<FindOptions> = [
  ...generalOptions(),
  ...scuNetworkOptions({ aet: "FINDSCU" }),
  ...retryOptions(),
  {
    key: "repeat",
    flags: ["--repeat"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "[n]umber",
    group: NETWORK,
    describe: "repeat each query n times",
  },
  {
    key: "abortAssoc",
    flags: ["--abort"],
    kind: "flag",
    group: NETWORK,
    describe: "abort association instead of releasing it",
  },
  {
    key: "cancel",
    flags: ["--cancel"],
    kind: "value",
    numeric: "int",
    min: 0,
    metavar: "[n]umber",
    group: NETWORK,
    describe: "cancel after n responses (default: never)",
  },
  {
    key: "model",
    flags: ["-W", "--worklist"],
    kind: "set",
    value: "worklist",
    group: QUERY,
    describe:
      "use modality worklist information model\n(default unless the query has QueryRetrieveLevel)",
  },
  {
    key: "model",
    flags: ["-P", "--patient"],
    kind: "set",
    value: "patient",
    group: QUERY,
    describe: "use patient root information model",
  },
  {
    key: "model",
    flags: ["-S", "--study"],
    kind: "set",
    value: "study",
    group: QUERY,
    describe: "use study root information model",
  },
  {
    key: "model",
    flags: ["-O", "--psonly"],
    kind: "set",
    value: "psonly",
    group: QUERY,
    describe: "use patient/study only information model",
  },
  {
    key: "key",
    flags: ["-k", "--key"],
    kind: "list",
    metavar: '[k]ey: gggg,eeee="str", path or dict. name="str"',
    group: QUERYKEYS,
    describe: "override matching key (repeatable); applies to every query",
  },
  {
    key: "proposal",
    flags: ["-x=", "--propose-uncompr"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "propose all uncompressed TS, explicit VR\nwith local byte ordering first (default)",
  },
  {
    key: "proposal",
    flags: ["-xe", "--propose-little"],
    kind: "set",
    value: "little",
    group: TS,
    describe: "propose all uncompressed TS, explicit VR little endian first",
  },
  {
    key: "proposal",
    flags: ["-xb", "--propose-big"],
    kind: "set",
    value: "big",
    group: TS,
    describe: "propose all uncompressed TS, explicit VR big endian first",
  },
  {
    key: "proposal",
    flags: ["-xd", "--propose-deflated"],
    kind: "set",
    value: "deflated",
    group: TS,
    describe:
      "propose deflated explicit VR little endian TS\nand all uncompressed transfer syntaxes",
  },
  {
    key: "proposal",
    flags: ["-xi", "--propose-implicit"],
    kind: "set",
    value: "implicit",
    group: TS,
    describe: "propose implicit VR little endian TS only",
  },
  {
    key: "queries",
    flags: ["--queries"],
    kind: "value",
    metavar: "FILE",
    group: BATCH,
    describe:
      "read one query per row from FILE (CSV with a header,\nTSV, .xlsx or NDJSON; - = stdin). Read from stdin anyway when\nno -k keys and no query files are given and stdin\nis not a terminal",
  },
  {
    key: "keepGoing",
    flags: ["--keep-going"],
    kind: "flag",
    group: BATCH,
    describe: "skip invalid query rows (exit 3 at the end)",
  },
  shardOption(BATCH),
  ...tableOptions(BATCH),
  ...pacingOptions(BATCH, "none unless given; shards need\none each"),
  {
    key: "level",
    flags: ["--level"],
    kind: "value",
    metavar: "LEVEL",
    group: BATCH,
    describe:
      "QueryRetrieveLevel for rows that do not give one\n(PATIENT, STUDY, SERIES, IMAGE; default STUDY)",
  },
  {
    key: "splitDates",
    flags: ["--split-dates"],
    kind: "flag",
    group: BATCH,
    describe:
      "when the peer caps the number of matches, split the\nStudyDate range in halves and query again (deduplicated)",
  },
  {
    key: "maxResults",
    flags: ["--max-results"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "N",
    group: BATCH,
    describe: "treat N matches as the peer's cap (with --split-dates)",
  },
  ...recordFormatOptions("format of the records on stdout"),
  {
    key: "jsonModel",
    flags: ["--json-model"],
    kind: "flag",
    group: OUTPUT,
    describe: "write the strict DICOM JSON model (PS3.18) instead\nof flat records",
  },
  {
    key: "bulk",
    flags: ["--bulk"],
    kind: "value",
    metavar: "omit|inline",
    group: OUTPUT,
    describe: "binary values: omitted (default) or inline base64",
  },
  {
    key: "noOutput",
    flags: ["--no-output"],
    kind: "flag",
    group: OUTPUT,
    describe: "write no records to stdout",
  },
  {
    key: "showResponses",
    flags: ["+sr", "--show-responses"],
    kind: "set",
    value: true,
    group: OUTPUT,
    describe: "always print the response dump on stderr",
  },
  {
    key: "showResponses",
    flags: ["-sr", "--hide-responses"],
    kind: "set",
    value: false,
    group: OUTPUT,
    describe:
      "do not print the response dump on stderr\n(default: shown, as DCMTK does, unless -X is given)",
  },
  {
    key: "extract",
    flags: ["-X", "--extract"],
    kind: "flag",
    group: EXTRACT,
    describe: "extract responses to DICOM files (rsp0001.dcm, ...)",
  },
  {
    key: "outputDirectory",
    flags: ["-od", "--output-directory"],
    kind: "value",
    metavar: "[d]irectory",
    group: EXTRACT,
    describe: "write extracted files to existing directory d\n(default: .)",
  },
  {
    key: "limitOutput",
    flags: ["-Xlo", "--limit-output"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "[n]umber",
    group: EXTRACT,
    describe: "limit number of extracted files to n",
  },
];
