/** inst-count: studies per institution (or per any attributes) in C-FIND results. */
import {
  processIo,
  forEachAnalysisRecord,
  rowReportsNote,
  RecordWriter,
  signalExitCode,
  type Io,
} from "@dicom-pipes/dimse/io";
import { formatDicomDate, type FlatRecord } from "@dicom-pipes/dimse/records";
import {
  describeWindow,
  displayName,
  packageVersion,
  parseAnalysisKeys,
  recordFormat,
  resolveWindow,
  runTool,
  UsageError,
  withWindowOptions,
} from "@dicom-pipes/dimse/cli";
import {
  ANALYSIS_STREAMS,
  parseYargs,
  recordFormatYargs,
  toolYargs,
  yargsLogLevel,
} from "@dicom-pipes/dimse/yargs";
import { Counter, type Per } from "./count.js";

export { processIo };

/** The exit statuses this tool can return (for --help). */
export const EXITS = [0, 1, 2];
const TOOL = "inst-count";

function parser(version: string) {
  const y = toolYargs(TOOL, version, {
    title: "studies per institution (or any attributes) in C-FIND results",
    streams: ANALYSIS_STREAMS,
    exits: EXITS,
  })
    .usage(
      `${TOOL} [options] [INPUT...]\n\n` +
        "Count studies per institution (InstitutionName) in C-FIND results, or per any\n" +
        "other attributes with --by. INPUT: NDJSON records (flat or PS3.18, as findscu-ts\n" +
        "writes them), CSV/TSV with a header row, JSON arrays, or the JSON file of\n" +
        "pacsalyzer's query_pacs.py (detected automatically); - or none = stdin.",
    )
    .options({
      by: {
        type: "string",
        default: "InstitutionName",
        describe: "attribute keyword(s) to count by, comma-separated",
        group: "Counting:",
      },
      per: {
        choices: ["study", "series", "record"] as const,
        default: "study" as Per,
        describe:
          "count distinct studies (StudyInstanceUID), distinct series (SeriesInstanceUID) or input records",
        group: "Counting:",
      },
      "fold-case": {
        type: "boolean",
        describe: "merge names that differ only in case (shows the most frequent spelling)",
        group: "Counting:",
      },
      top: { type: "number", describe: "print only the N largest groups", group: "Output:" },
      ...recordFormatYargs("tsv"),
    });
  return withWindowOptions(y)
    .example(
      `findscu-ts -S -aec PACS pacs 104 -k QueryRetrieveLevel=STUDY -k StudyDate=20240101- -k InstitutionName -k StudyInstanceUID | ${TOOL} -t 3m`,
      "institutions of the last 90 days",
    )
    .example(
      `${TOOL} --timeframe all query_results.json > institutions.tsv`,
      "pacsalyzer's JSON, every date",
    )
    .example(
      `${TOOL} --by SeriesDescription --per series --top 10 series.ndjson`,
      "the ten most common series descriptions",
    )
    .example(
      `${TOOL} --by InstitutionName,Modality --since 20240101 --until 20240630 --format csv studies.ndjson`,
      "per institution and modality, first half of 2024",
    );
}

export async function main(argv: string[], io: Io): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const { args, done } = await parseYargs(parser(packageVersion(import.meta.url)), argv, io);
    if (done) return 0;
    log.level = yargsLogLevel(args);
    const by = parseAnalysisKeys(args.by, "--by");
    if (args.top !== undefined && (!Number.isInteger(args.top) || args.top < 1))
      throw new UsageError(`--top: expected a positive whole number, got ${args.top}`);
    const window = resolveWindow(args, "exclusive");
    const counter = new Counter({
      by,
      per: args.per,
      foldCase: Boolean(args["fold-case"]),
      window,
    });
    const t0 = Date.now();
    // Input without a grouping column (or without dates, for a window) counts nothing real.
    const required = window.all ? by : [...by, "StudyDate"];
    const rowReports = await forEachAnalysisRecord(
      args._.map(String),
      io,
      (rec) => counter.add(rec),
      { required, fields: counter.fields },
    );
    const stopped = signalExitCode(io.signal);
    if (stopped) return stopped;
    const st = counter.stats;
    let rows = counter.rows();
    if (args.top !== undefined) rows = rows.slice(0, args.top);
    const { format, excel } = recordFormat(args.format, args.excel, "tsv");
    const names = by.map(displayName);
    const writer = new RecordWriter(io.stdout, {
      format,
      excel,
      columns: format === "ndjson" ? undefined : [...names, "Count"],
    });
    await writer.writeHeader();
    for (const row of rows) {
      if (!writer.ok) break;
      let rec: FlatRecord;
      if (format === "ndjson") {
        rec = { count: row.count };
        by.forEach((k, i) => {
          if (row.kinds[i] === "value") rec[k] = row.labels[i];
          else if (row.kinds[i] === "empty") rec[k] = null;
        });
      } else {
        rec = { Count: row.count };
        names.forEach((n, i) => (rec[n] = row.labels[i]));
      }
      await writer.write(rec);
    }
    await writer.end();
    const unit = args.per === "record" ? "records" : args.per === "series" ? "series" : "studies";
    if (st.noDate)
      log.warn(
        `${st.noDate} of ${st.records} records without a usable StudyDate were left out (--timeframe all counts them)`,
      );
    if (st.afterNow)
      log.info(
        `${st.afterNow} records dated after ${formatDicomDate(window.now)} were counted (as pacsalyzer does; --until drops them)`,
      );
    if (st.noUid)
      log.warn(
        `${st.noUid} records without ${args.per === "series" ? "SeriesInstanceUID" : "StudyInstanceUID"} were counted once each`,
      );
    if (rowReports) log.info(rowReportsNote(rowReports));
    log.info(
      `${st.records} records read, ${st.outside} outside the window (${describeWindow(window)}), ` +
        `${st.duplicates} repeated ${unit} merged; ${rows.length} rows in ${((Date.now() - t0) / 1000).toFixed(2)} s`,
    );
    return 0;
  });
}
