/** storescp-ts command line: DCMTK storescp's options plus layout, allow-list, bind and NDJSON output. */
import {
  generalOptions,
  outputSyntaxOptions,
  recordFormatOptions,
  NETWORK,
  OUTPUT,
  scpLimitOptions,
  type DecompressOptions,
} from "@dicom-pipes/dimse/cli";
import type {
  GeneralOptions,
  OptionTable,
  OutputOptions,
  ScpLimitOptions,
} from "@dicom-pipes/dimse/app";
import type { SyntaxPreference } from "@dicom-pipes/dimse/net";
import type { Naming } from "./naming.js";

/** Every option storescp-ts reads, typed. */
export interface StoreScpOptions
  extends GeneralOptions,
    ScpLimitOptions,
    OutputOptions,
    DecompressOptions {
  aetitle?: string;
  maxPdu?: number;
  bind?: string;
  acceptCalling?: string[];
  acseTimeout?: number;
  fork?: boolean;
  disableHostLookup?: boolean;
  refuse?: boolean;
  promiscuous?: boolean;
  tsPref?: SyntaxPreference;
  outputDirectory?: string;
  layout?: string;
  naming?: Naming;
  extension?: string;
  fsync?: boolean;
  ignore?: boolean;
  bitPreserving?: boolean;
  sortConc?: string;
  sortStudy?: string;
  sortPatient?: boolean;
  execOnReception?: string;
  execOnEndOfStudy?: string;
  renameOnEndOfStudy?: boolean;
  endOfStudyTimeout?: number;
  execSync?: boolean;
}

const TS = "transfer syntaxes (incoming)";
const FILES = "output files";
const SORT = "sorting into subdirectories (not with --layout)";
const EVENTS = "event notification";

export const OPTIONS: OptionTable<StoreScpOptions> = [
  ...generalOptions(),
  {
    key: "aetitle",
    flags: ["-aet", "--aetitle"],
    kind: "value",
    metavar: "[a]etitle",
    group: NETWORK,
    describe:
      "set my AE title (default: STORESCP); associations\nto any called AE title are accepted, as in DCMTK",
  },
  {
    key: "maxPdu",
    flags: ["-pdu", "--max-pdu"],
    kind: "value",
    numeric: "int",
    min: 4096,
    max: 8388608,
    metavar: "[n]umber of bytes",
    group: NETWORK,
    describe: "set max receive pdu to n bytes (default: 262144)",
  },
  {
    key: "bind",
    flags: ["--bind"],
    kind: "value",
    metavar: "ADDRESS",
    group: NETWORK,
    describe: "listen on this address only (default: all interfaces)",
  },
  {
    key: "acceptCalling",
    flags: ["--accept-calling"],
    kind: "list",
    metavar: "AET[,AET...]",
    group: NETWORK,
    describe:
      "accept associations only from these calling AE titles\n(others are rejected: calling AE title not recognized)",
  },
  {
    key: "acseTimeout",
    flags: ["-ta", "--acse-timeout"],
    kind: "value",
    numeric: "number",
    min: 0,
    metavar: "[s]econds",
    group: NETWORK,
    describe: "timeout for ACSE messages (default: 30)",
  },
  ...scpLimitOptions(),
  {
    key: "fork",
    flags: ["--fork"],
    kind: "flag",
    group: NETWORK,
    describe:
      "accepted for compatibility: associations are always\nserved concurrently in one process",
  },
  {
    key: "fork",
    flags: ["--single-process"],
    kind: "flag",
    group: NETWORK,
    describe: "accepted for compatibility",
    hidden: true,
  },
  {
    key: "disableHostLookup",
    flags: ["-dhl", "--disable-host-lookup"],
    kind: "flag",
    group: NETWORK,
    describe: "do not resolve the peer's host name (#r is its address)",
  },
  {
    key: "refuse",
    flags: ["--refuse"],
    kind: "flag",
    group: NETWORK,
    describe: "refuse every association",
  },
  {
    key: "promiscuous",
    flags: ["-pm", "--promiscuous"],
    kind: "flag",
    group: TS,
    describe: "accepted for compatibility: unknown SOP classes are\nalways accepted",
  },
  {
    key: "tsPref",
    flags: ["+x=", "--prefer-uncompr"],
    kind: "set",
    value: "sender",
    group: TS,
    describe: "accept every transfer syntax, in the order the\nsender proposes them (default)",
  },
  {
    key: "tsPref",
    flags: ["+xa", "--accept-all"],
    kind: "set",
    value: "sender",
    group: TS,
    describe: "accept all transfer syntaxes (the default here)",
  },
  {
    key: "tsPref",
    flags: ["+xe", "--prefer-little"],
    kind: "set",
    value: "little",
    group: TS,
    describe: "prefer explicit VR little endian",
  },
  {
    key: "tsPref",
    flags: ["+xb", "--prefer-big"],
    kind: "set",
    value: "big",
    group: TS,
    describe: "prefer explicit VR big endian",
  },
  {
    key: "tsPref",
    flags: ["+xi", "--implicit"],
    kind: "set",
    value: "implicit",
    group: TS,
    describe: "accept implicit VR little endian only",
  },
  {
    key: "outputDirectory",
    flags: ["-od", "--output-directory"],
    kind: "value",
    metavar: "[d]irectory",
    group: FILES,
    describe: "write received objects to existing directory d (default: .)",
  },
  {
    key: "layout",
    flags: ["--layout"],
    kind: "value",
    metavar: "TEMPLATE",
    group: FILES,
    describe:
      "place files by a template under -od, e.g.\n{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm,\nor a preset: hierarchy, pacsifier. Values are sanitised:\nnothing escapes the output directory",
  },
  {
    key: "naming",
    flags: ["-uf", "--default-filenames"],
    kind: "set",
    value: "default",
    group: FILES,
    describe: "name files <prefix>.<SOPInstanceUID> (default)",
  },
  {
    key: "naming",
    flags: ["+uf", "--unique-filenames"],
    kind: "set",
    value: "unique",
    group: FILES,
    describe: "name files <prefix>.X.<new UID>",
  },
  {
    key: "naming",
    flags: ["-tn", "--timenames"],
    kind: "set",
    value: "time",
    group: FILES,
    describe: "name files <YYYYMMDDHHMMSSmmm>.<prefix>",
  },
  {
    key: "extension",
    flags: ["-fe", "--filename-extension"],
    kind: "value",
    metavar: "[e]xtension",
    group: FILES,
    describe: "append e to each file name (e.g. .dcm)",
  },
  {
    key: "fsync",
    flags: ["--fsync"],
    kind: "flag",
    group: FILES,
    describe:
      "fsync each file before answering Success (power-loss safe;\nslower). Files are always complete: written to a temporary\nname and renamed when closed",
  },
  ...outputSyntaxOptions(FILES),
  {
    key: "ignore",
    flags: ["--ignore"],
    kind: "flag",
    group: FILES,
    describe: "receive data but store nothing",
  },
  {
    key: "bitPreserving",
    flags: ["+B", "--bit-preserving"],
    kind: "flag",
    group: FILES,
    describe: "accepted for compatibility: data are always written\nexactly as received",
  },
  {
    key: "sortConc",
    flags: ["-ss", "--sort-conc-studies"],
    kind: "value",
    metavar: "[p]refix",
    group: SORT,
    describe: "one subdirectory per series of objects of one study:\np_YYYYMMDD_HHMMSSmmm",
  },
  {
    key: "sortStudy",
    flags: ["-su", "--sort-on-study-uid"],
    kind: "value",
    metavar: "[p]refix",
    group: SORT,
    describe:
      "one subdirectory per study: p_<StudyInstanceUID>\n(just <StudyInstanceUID> for an empty prefix)",
  },
  {
    key: "sortPatient",
    flags: ["-sp", "--sort-on-patientname"],
    kind: "flag",
    group: SORT,
    describe: "one subdirectory per study: <PatientName>_YYYYMMDD_HHMMSSmmm",
  },
  {
    key: "execOnReception",
    flags: ["-xcr", "--exec-on-reception"],
    kind: "value",
    metavar: "[c]ommand",
    group: EVENTS,
    describe:
      "run command after each stored object (through a shell);\n#p directory, #f file name, #a calling AE, #c called AE,\n#r peer host: each stands for a quoted variable holding the\nvalue, which the shell never parses (see README)",
  },
  {
    key: "execOnEndOfStudy",
    flags: ["-xcs", "--exec-on-eostudy"],
    kind: "value",
    metavar: "[c]ommand",
    group: EVENTS,
    describe: "run command at the end of each study (#p #a #c #r)",
  },
  {
    key: "renameOnEndOfStudy",
    flags: ["-rns", "--rename-on-eostudy"],
    kind: "flag",
    group: EVENTS,
    describe: "rename a finished study's files <prefix><6 digits>",
  },
  {
    key: "endOfStudyTimeout",
    flags: ["-tos", "--eostudy-timeout"],
    kind: "value",
    numeric: "number",
    min: 0,
    metavar: "[t]imeout",
    group: EVENTS,
    describe: "a study ends after t seconds without objects",
  },
  {
    key: "execSync",
    flags: ["-xs", "--exec-sync"],
    kind: "flag",
    group: EVENTS,
    describe: "run commands synchronously (wait for them)",
  },
  ...recordFormatOptions("one record per stored object on stdout"),
  {
    key: "noOutput",
    flags: ["--no-output"],
    kind: "flag",
    group: OUTPUT,
    describe: "write no records to stdout",
  },
];
