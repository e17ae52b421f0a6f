/** movescu-ts / getscu-ts command line: DCMTK movescu's and getscu's options plus the batch ones. */
import { generalOptions, recordFormatOptions, retryOptions, scuNetworkOptions, shardOption, NETWORK, OUTPUT, type OptionSpec } from "@dicom-pipes/dimse/cli";

const MODEL = "query information model";
const KEYS = "retrieve keys";
const RECEIVE_MOVE = "receiving (C-MOVE to self with +P, or C-GET)";
const BATCH = "batch retrieval";

export function options(tool: "movescu-ts" | "getscu-ts"): OptionSpec[] {
  const get = tool === "getscu-ts";
  const RECEIVE = get ? "receiving" : RECEIVE_MOVE;
  return [
    ...generalOptions(),
    ...scuNetworkOptions({ aet: get ? "GETSCU" : "MOVESCU" }).filter((o) => o.key !== "bind"),
    ...retryOptions(),
    ...(get
      ? []
      : ([
          { key: "move", flags: ["-aem", "--move"], kind: "value", metavar: "[a]etitle", group: NETWORK, describe: "set move destination AE title (default: MOVESCU)" },
          { key: "port", flags: ["+P", "--port"], kind: "value", numeric: "int", min: 0, max: 65535, metavar: "[n]umber", group: NETWORK, describe: "port to receive the moved objects on (C-MOVE to self);\nthe archive must map the move destination to this host\nand port" },
          { key: "port", flags: ["--no-port"], kind: "set", value: undefined, group: NETWORK, describe: "no port: a third-party move (default)" },
          { key: "bind", flags: ["--bind"], kind: "value", metavar: "ADDRESS", group: NETWORK, describe: "address the +P listener binds (default: all interfaces)" },
          { key: "get", flags: ["--get"], kind: "flag", group: NETWORK, describe: "retrieve with C-GET instead (as DCMTK getscu: objects\narrive on the same association, no port needed)" },
        ] as OptionSpec[])),
    { key: "model", flags: ["-P", "--patient"], kind: "set", value: "patient", group: MODEL, describe: "use patient root information model (DCMTK's default)" },
    { key: "model", flags: ["-S", "--study"], kind: "set", value: "study", group: MODEL, describe: "use study root information model" },
    { key: "model", flags: ["-O", "--psonly"], kind: "set", value: "psonly", group: MODEL, describe: "use patient/study only information model" },
    { key: "key", flags: ["-k", "--key"], kind: "list", metavar: "[k]ey: gggg,eeee=\"str\" or dict. name=\"str\"", group: KEYS, describe: "override matching key (repeatable); applies to every request" },
    { key: "outputDirectory", flags: ["-od", "--output-directory"], kind: "value", metavar: "[d]irectory", group: RECEIVE, describe: "write received objects to existing directory d (default: .)" },
    { key: "layout", flags: ["--layout"], kind: "value", metavar: "TEMPLATE", group: RECEIVE, describe: "file layout under -od: dcmtk (<prefix>.<SOPInstanceUID>,\nthe default), hierarchy, pacsifier, or a template such as\n{PatientID}/{StudyInstanceUID}/{SOPInstanceUID}.dcm" },
    { key: "info", flags: ["--info"], kind: "flag", group: RECEIVE, describe: "write a per-series CSV dump (PACSIFIER's format) next\nto each series folder" },
    { key: "ignore", flags: ["--ignore"], kind: "flag", group: RECEIVE, describe: "receive objects but store nothing" },
    { key: "fsync", flags: ["--fsync"], kind: "flag", group: RECEIVE, describe: "fsync each file before acknowledging it" },
    { key: "tsPref", flags: ["+x=", "--prefer-uncompr"], kind: "set", value: "sender", group: RECEIVE, describe: "accept every transfer syntax offered, in the sender's\norder (default)" },
    { key: "tsPref", flags: ["+xa", "--accept-all"], kind: "set", value: "sender", group: RECEIVE, describe: "accept all transfer syntaxes (the default here)" },
    { key: "tsPref", flags: ["+xi", "--implicit"], kind: "set", value: "implicit", group: RECEIVE, describe: "accept implicit VR little endian only" },
    { key: "input", flags: ["--input"], kind: "value", metavar: "FILE", group: BATCH, describe: "one retrieve per record of FILE (CSV, TSV or NDJSON, e.g.\nfindscu-ts output; - = stdin). Read from stdin anyway\nwhen no -k keys and no query files are given and stdin\nis not a terminal" },
    { key: "level", flags: ["--level"], kind: "value", metavar: "LEVEL", group: BATCH, describe: "level for records without QueryRetrieveLevel or UIDs" },
    { key: "jobs", flags: ["-j", "--jobs"], kind: "value", numeric: "int", min: 1, max: 32, metavar: "N", group: BATCH, describe: "N requests at a time, each on its own association" },
    { key: "throttle", flags: ["--throttle"], kind: "value", numeric: "number", min: 0, metavar: "SECONDS", group: BATCH, describe: "pause between requests (per association)" },
    { key: "batchSize", flags: ["--batch-size"], kind: "value", numeric: "int", min: 1, metavar: "N", group: BATCH, describe: "after every N requests, pause --batch-wait seconds" },
    { key: "batchWait", flags: ["--batch-wait"], kind: "value", numeric: "number", min: 0, metavar: "SECONDS", group: BATCH, describe: "the pause after each batch (default 0)" },
    { key: "window", flags: ["--window"], kind: "value", metavar: "HH:MM-HH:MM", group: BATCH, describe: "send requests only inside this daily window (may\ncross midnight); wait outside it" },
    { key: "tz", flags: ["--tz"], kind: "value", metavar: "ZONE", group: BATCH, describe: "time zone of --window (IANA name; default: local)" },
    { key: "journal", flags: ["--journal"], kind: "value", metavar: "FILE", group: BATCH, describe: "resume journal (default in batch mode:\n<output-directory>/.movescu-ts.journal, with --shard K/N\n.movescu-ts.shard-K-of-N.journal); a rerun skips\nthe requests it lists as complete" },
    { key: "noJournal", flags: ["--no-journal"], kind: "flag", group: BATCH, describe: "neither read nor write a journal" },
    { key: "keepGoing", flags: ["--keep-going"], kind: "flag", group: BATCH, describe: "skip invalid input records instead of stopping" },
    shardOption(BATCH),
    { key: "emit", flags: ["--emit"], kind: "value", metavar: "files", group: OUTPUT, describe: "also write one record per received file" },
    ...recordFormatOptions("one result per request on stdout"),
    { key: "noOutput", flags: ["--no-output"], kind: "flag", group: OUTPUT, describe: "write no records to stdout" },
    { key: "noProgress", flags: ["--no-progress"], kind: "flag", group: OUTPUT, describe: "no progress line (shown only when stderr is a terminal)" },
  ];
}
