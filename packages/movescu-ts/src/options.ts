/** movescu-ts / getscu-ts command line: DCMTK movescu's and getscu's options plus the batch ones. */
import {
  outputSyntaxOptions,
  generalOptions,
  recordFormatOptions,
  retryOptions,
  scuNetworkOptions,
  shardOption,
  tableOptions,
  type TableInputOptions,
  NETWORK,
  OUTPUT,
  type DecompressOptions,
} from "@dicom-pipes/dimse/cli";
import {
  pacingOptions,
  type GeneralOptions,
  type OptionTable,
  type OutputOptions,
  type PacingOptions,
  type ScuNetworkOptions,
} from "@dicom-pipes/dimse/app";
import type { QueryModel } from "@dicom-pipes/dimse/dicom";
import type { SyntaxPreference } from "@dicom-pipes/dimse/net";

/** Every option movescu-ts and getscu-ts read, typed. */
export interface MoveOptions
  extends GeneralOptions,
    ScuNetworkOptions,
    OutputOptions,
    PacingOptions,
    TableInputOptions,
    DecompressOptions {
  resolve?: string;
  move?: string;
  port?: number;
  get?: boolean;
  model?: QueryModel;
  key?: string[];
  outputDirectory?: string;
  layout?: string;
  info?: boolean;
  ignore?: boolean;
  fsync?: boolean;
  tsPref?: SyntaxPreference;
  input?: string;
  level?: string;
  emit?: string;
}

const MODEL = "query information model";
const KEYS = "retrieve keys";
const RECEIVE_MOVE = "receiving (C-MOVE to self with +P, or C-GET)";
const BATCH = "batch retrieval";

export function options(tool: "movescu-ts" | "getscu-ts"): OptionTable<MoveOptions> {
  const get = tool === "getscu-ts";
  const RECEIVE = get ? "receiving" : RECEIVE_MOVE;
  return [
    ...generalOptions(),
    ...scuNetworkOptions({ aet: get ? "GETSCU" : "MOVESCU" }).filter((o) => o.key !== "bind"),
    ...retryOptions(),
    ...(get
      ? []
      : ([
          {
            key: "move",
            flags: ["-aem", "--move"],
            kind: "value",
            metavar: "[a]etitle",
            group: NETWORK,
            describe: "set move destination AE title (default: MOVESCU)",
          },
          {
            key: "port",
            flags: ["+P", "--port"],
            kind: "value",
            numeric: "int",
            min: 0,
            max: 65535,
            metavar: "[n]umber",
            group: NETWORK,
            describe:
              "port to receive the moved objects on (C-MOVE to self);\nthe archive must map the move destination to this host\nand port",
          },
          {
            key: "port",
            flags: ["--no-port"],
            kind: "set",
            value: undefined,
            group: NETWORK,
            describe: "no port: a third-party move (default)",
          },
          {
            key: "bind",
            flags: ["--bind"],
            kind: "value",
            metavar: "ADDRESS",
            group: NETWORK,
            describe: "address the +P listener binds (default: all interfaces)",
          },
          {
            key: "get",
            flags: ["--get"],
            kind: "flag",
            group: NETWORK,
            describe:
              "retrieve with C-GET instead (as DCMTK getscu: objects\narrive on the same association, no port needed)",
          },
        ] as OptionTable<MoveOptions>)),
    {
      key: "model",
      flags: ["-P", "--patient"],
      kind: "set",
      value: "patient",
      group: MODEL,
      describe: "use patient root information model (DCMTK's default)",
    },
    {
      key: "model",
      flags: ["-S", "--study"],
      kind: "set",
      value: "study",
      group: MODEL,
      describe: "use study root information model",
    },
    {
      key: "model",
      flags: ["-O", "--psonly"],
      kind: "set",
      value: "psonly",
      group: MODEL,
      describe: "use patient/study only information model",
    },
    {
      key: "key",
      flags: ["-k", "--key"],
      kind: "list",
      metavar: '[k]ey: gggg,eeee="str" or dict. name="str"',
      group: KEYS,
      describe: "override matching key (repeatable); applies to every request",
    },
    {
      key: "outputDirectory",
      flags: ["-od", "--output-directory"],
      kind: "value",
      metavar: "[d]irectory",
      group: RECEIVE,
      describe: "write received objects to existing directory d (default: .)",
    },
    {
      key: "layout",
      flags: ["--layout"],
      kind: "value",
      metavar: "TEMPLATE",
      group: RECEIVE,
      describe:
        "file layout under -od: dcmtk (<prefix>.<SOPInstanceUID>,\nthe default), hierarchy, pacsifier, or a template such as\n{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm",
    },
    {
      key: "info",
      flags: ["--info"],
      kind: "flag",
      group: RECEIVE,
      describe: "write a per-series CSV dump (PACSIFIER's format) next\nto each series folder",
    },
    {
      key: "ignore",
      flags: ["--ignore"],
      kind: "flag",
      group: RECEIVE,
      describe: "receive objects but store nothing",
    },
    {
      key: "fsync",
      flags: ["--fsync"],
      kind: "flag",
      group: RECEIVE,
      describe: "fsync each file before acknowledging it",
    },
    ...outputSyntaxOptions(RECEIVE, !get),
    {
      key: "tsPref",
      flags: ["+x=", "--prefer-uncompr"],
      kind: "set",
      value: "sender",
      group: RECEIVE,
      describe: "accept every transfer syntax offered, in the sender's\norder (default)",
    },
    {
      key: "tsPref",
      flags: ["+xa", "--accept-all"],
      kind: "set",
      value: "sender",
      group: RECEIVE,
      describe: "accept all transfer syntaxes (the default here)",
    },
    {
      key: "tsPref",
      flags: ["+xi", "--implicit"],
      kind: "set",
      value: "implicit",
      group: RECEIVE,
      describe: "accept implicit VR little endian only",
    },
    {
      key: "input",
      flags: ["--input"],
      kind: "value",
      metavar: "FILE",
      group: BATCH,
      describe:
        "one retrieve per record of FILE (CSV, TSV or NDJSON, e.g.\nfindscu-ts output; - = stdin). Read from stdin anyway\nwhen no -k keys and no query files are given and stdin\nis not a terminal",
    },
    {
      key: "level",
      flags: ["--level"],
      kind: "value",
      metavar: "LEVEL",
      group: BATCH,
      describe: "level for records without QueryRetrieveLevel or UIDs",
    },
    ...pacingOptions(
      BATCH,
      "default in batch mode:\n<output-directory>/.movescu-ts.journal, with --shard K/N\n.movescu-ts.shard-K-of-N.journal",
    ),
    {
      key: "keepGoing",
      flags: ["--keep-going"],
      kind: "flag",
      group: BATCH,
      describe: "skip invalid input records instead of stopping",
    },
    shardOption(BATCH),
    {
      key: "resolve",
      flags: ["--resolve"],
      kind: "value",
      metavar: "auto|never",
      group: BATCH,
      describe:
        "input rows with keys their UIDs do not imply (PatientID +\nStudyDate, AccessionNumber + Modality): auto finds the\nmatches by C-FIND, then retrieves each by its UIDs\n(default); never refuses them (exit 2)",
    },
    ...tableOptions(BATCH),
    {
      key: "emit",
      flags: ["--emit"],
      kind: "value",
      metavar: "files",
      group: OUTPUT,
      describe: "also write one record per received file",
    },
    ...recordFormatOptions("one result per request on stdout"),
    {
      key: "noOutput",
      flags: ["--no-output"],
      kind: "flag",
      group: OUTPUT,
      describe: "write no records to stdout",
    },
    {
      key: "noProgress",
      flags: ["--no-progress"],
      kind: "flag",
      group: OUTPUT,
      describe: "no progress line (shown only when stderr is a terminal)",
    },
  ];
}
