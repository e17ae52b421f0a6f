/** storescu-ts command line: DCMTK storescu's options plus stdin paths, -j and NDJSON results. */
import {
  generalOptions,
  recordFormatOptions,
  retryOptions,
  scuNetworkOptions,
  sendDecompressOption,
  NETWORK,
  OUTPUT,
  type DecompressOptions,
} from "@dicom-pipes/dimse/cli";
import {
  jobsOption,
  type GeneralOptions,
  type OptionTable,
  type OutputOptions,
  type ScuNetworkOptions,
} from "@dicom-pipes/dimse/app";

/** Every option storescu-ts reads, typed. */
export interface StoreOptions
  extends GeneralOptions,
    ScuNetworkOptions,
    OutputOptions,
    DecompressOptions {
  jobs?: number;
  abortAssoc?: boolean;
  scanDirectories?: boolean;
  recurse?: boolean;
  scanPattern?: string;
  input?: string;
  halt?: boolean;
  rename?: boolean;
  required?: boolean;
  combine?: boolean;
  proposal?: "uncompr" | "little" | "big" | "implicit";
}

const INPUT = "input files";
const TS = "transfer syntaxes (proposed)";
const BEHAVIOUR = "behaviour";

export const OPTIONS: OptionTable<StoreOptions> = [
  ...generalOptions(),
  ...scuNetworkOptions({ aet: "STORESCU" }),
  ...retryOptions(),
  // The batch tools' -j; the rest of their pacing (throttle, batches, window, journal) is not storescu-ts's.
  jobsOption(NETWORK, "send over N associations in parallel (default 1)", 64),
  {
    key: "abortAssoc",
    flags: ["--abort"],
    kind: "flag",
    group: NETWORK,
    describe: "abort association instead of releasing it",
  },
  {
    key: "scanDirectories",
    flags: ["+sd", "--scan-directories"],
    kind: "flag",
    group: INPUT,
    describe: "scan directories given as arguments",
  },
  {
    key: "recurse",
    flags: ["+r", "--recurse"],
    kind: "set",
    value: true,
    group: INPUT,
    describe: "recurse into subdirectories (with +sd)",
  },
  {
    key: "recurse",
    flags: ["-r", "--no-recurse"],
    kind: "set",
    value: false,
    group: INPUT,
    describe: "do not recurse (default)",
  },
  {
    key: "scanPattern",
    flags: ["+sp", "--scan-pattern"],
    kind: "value",
    metavar: "[p]attern",
    group: INPUT,
    describe: "only files whose names match the shell pattern p\n(case-sensitive; with +sd)",
  },
  {
    key: "input",
    flags: ["--input"],
    kind: "value",
    metavar: "FILE",
    group: INPUT,
    describe:
      'read paths from FILE (- = stdin): plain lines, or NDJSON\nrecords with a "path" field. Without file arguments,\npaths are read from stdin when it is not a terminal',
  },
  {
    key: "halt",
    flags: ["-nh", "--no-halt"],
    kind: "set",
    value: false,
    group: BEHAVIOUR,
    describe: "do not halt on the first failed or invalid file\n(exit 3 at the end instead)",
  },
  {
    key: "halt",
    flags: ["+h", "--halt"],
    kind: "set",
    value: true,
    group: BEHAVIOUR,
    describe: "halt on the first failed or invalid file (default)",
  },
  {
    key: "rename",
    flags: ["+rn", "--rename"],
    kind: "set",
    value: true,
    group: BEHAVIOUR,
    describe: "rename sent files to <name>.done, failed to <name>.bad",
  },
  {
    key: "rename",
    flags: ["-rn", "--no-rename"],
    kind: "set",
    value: false,
    group: BEHAVIOUR,
    describe: "do not rename files (default)",
  },
  {
    key: "required",
    flags: ["-R", "--required"],
    kind: "flag",
    group: TS,
    describe:
      "accepted for compatibility: only the SOP classes of the\ninput files are ever proposed",
  },
  {
    key: "combine",
    flags: ["+C", "--combine"],
    kind: "flag",
    group: TS,
    describe: "accepted for compatibility",
  },
  sendDecompressOption(TS),
  {
    key: "proposal",
    flags: ["-x=", "--propose-uncompr"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe:
      "each file's own transfer syntax, then the uncompressed\nones, explicit VR little endian first (default)",
  },
  {
    key: "proposal",
    flags: ["-xe", "--propose-little"],
    kind: "set",
    value: "little",
    group: TS,
    describe: "same (explicit VR little endian first)",
  },
  {
    key: "proposal",
    flags: ["-xb", "--propose-big"],
    kind: "set",
    value: "big",
    group: TS,
    describe: "uncompressed fallbacks with explicit VR big endian first",
  },
  {
    key: "proposal",
    flags: ["-xi", "--propose-implicit"],
    kind: "set",
    value: "implicit",
    group: TS,
    describe: "fall back to implicit VR little endian only",
  },
  {
    key: "proposal",
    flags: ["-xs", "--propose-lossless"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted: compressed files are always proposed in their\nown transfer syntax",
  },
  {
    key: "proposal",
    flags: ["-xv", "--propose-j2k-lossless"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted (as -xs)",
  },
  {
    key: "proposal",
    flags: ["-xw", "--propose-j2k-lossy"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted (as -xs)",
    hidden: true,
  },
  {
    key: "proposal",
    flags: ["-xy", "--propose-jpeg8"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted (as -xs)",
    hidden: true,
  },
  {
    key: "proposal",
    flags: ["-xr", "--propose-rle"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted (as -xs)",
    hidden: true,
  },
  {
    key: "proposal",
    flags: ["-xt", "--propose-jls-lossless"],
    kind: "set",
    value: "uncompr",
    group: TS,
    describe: "accepted (as -xs)",
    hidden: true,
  },
  ...recordFormatOptions("one result per file on stdout"),
  {
    key: "noOutput",
    flags: ["--no-output"],
    kind: "flag",
    group: OUTPUT,
    describe: "write no results to stdout",
  },
  {
    key: "noProgress",
    flags: ["--no-progress"],
    kind: "flag",
    group: OUTPUT,
    describe: "no progress line (shown only when stderr is a terminal)",
  },
];
