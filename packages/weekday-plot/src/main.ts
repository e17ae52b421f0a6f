/** weekday-plot: boxplots of studies per hour for each weekday, a median table, a heatmap and the busiest slots. */
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Writable } from "node:stream";
import {
  processIo,
  forEachAnalysisRecord,
  rowReportsNote,
  RecordWriter,
  signalExitCode,
  type Io,
} from "@dicom-pipes/dimse/io";
import { formatDicomDate, formatIsoDate, isoWeekday, WEEKDAYS } from "@dicom-pipes/dimse/records";
import {
  describeWindow,
  Exit,
  checkOutputFolder,
  ExitError,
  makeOutputDirectory,
  packageVersion,
  resolveWindow,
  runTool,
  withWindowOptions,
} from "@dicom-pipes/dimse/cli";
import { ANALYSIS_STREAMS, parseYargs, toolYargs, yargsLogLevel } from "@dicom-pipes/dimse/yargs";
import {
  busiest,
  Collector,
  dateRange,
  hourlyMedians,
  samples,
  weekdayGroups,
  type Sample,
} from "./collect.js";
import { holidayCalendar, holidayDays } from "./holidays.js";
import { drawInOrder, type Chart } from "./draw.js";
import { boxplotSpec, heatmapSpec, type ImageFormat } from "./specs.js";

export { processIo };

/** The exit statuses this tool can return (for --help). */
export const EXITS = [0, 1, 2, 45];
const TOOL = "weekday-plot";

function parser(version: string) {
  const y = toolYargs(TOOL, version, {
    title: "boxplots of studies per hour for each weekday",
    streams: ANALYSIS_STREAMS,
    exits: EXITS,
  })
    .usage(
      `${TOOL} [options] [INPUT...] -o OUTDIR\n\n` +
        "For each weekday with studies, a boxplot per hour of day (0-23) of the number of\n" +
        "distinct studies per (date, hour): <Weekday>_boxplot_<timeframe>.png. Every date of\n" +
        "that weekday in the time window contributes, with 0 for hours without studies\n" +
        "(--exclude-zero drops them, as pacsalyzer did). Also median_per_hour_weekday.csv,\n" +
        "overview.png (median heatmap) and, with --top10-output, the ten busiest slots.\n" +
        "INPUT: NDJSON/CSV records with StudyDate, StudyTime, StudyInstanceUID (as findscu-ts\n" +
        "writes them) or pacsalyzer's query_pacs.py JSON; - or none = stdin.\n" +
        'Writes one NDJSON record per file written ({"path", "bytes"}) on stdout.',
    )
    .options({
      output: {
        alias: "o",
        type: "string",
        demandOption: "give the output folder with -o OUTDIR",
        describe: "output folder (created if needed)",
        group: "Output:",
      },
      format: {
        alias: "f",
        choices: ["png", "svg"] as const,
        default: "png" as ImageFormat,
        describe: "image format (1200×600)",
        group: "Output:",
      },
      "top10-output": {
        type: "string",
        describe: "also write the ten busiest (date, weekday, hour) slots to this CSV file",
        group: "Output:",
      },
      excel: {
        type: "boolean",
        describe: "write the CSV files for spreadsheets (UTF-8 BOM, CRLF, dates kept as text)",
        group: "Output:",
      },
      "seed-names": {
        type: "boolean",
        describe:
          "name plots as pacsalyzer did: Monday_boxplot_3m(Non-Holidays).png (default: Monday_boxplot_3m_non-holidays.png)",
        group: "Output:",
      },
      "exclude-zero": {
        type: "boolean",
        describe:
          "leave out (date, hour) pairs without studies (pacsalyzer's behaviour; biases medians upwards)",
        group: "Plots:",
      },
      holidays: {
        type: "string",
        describe:
          "split public holidays of COUNTRY (DE, CH, US, or DE-BY…) into separate (Holidays) plots",
        group: "Plots:",
      },
    });
  return withWindowOptions(y)
    .example(`${TOOL} -o plots -t 3m studies.ndjson`, "plots of the last 90 days")
    .example(
      `${TOOL} -o plots --timeframe all --holidays DE query_results.json`,
      "pacsalyzer JSON, German holidays apart",
    )
    .example(
      `findscu-ts ... -k StudyDate -k StudyTime -k StudyInstanceUID | ${TOOL} -o plots --format svg`,
      "straight from a query",
    );
}

function fmt(n: number): number {
  return Number.isInteger(n) ? n : Math.round(n * 1000) / 1000;
}

/**
 * A boxplot's file name: `Monday_boxplot_3m_non-holidays.png`, letters,
 * digits, `_`, `-` and `.` only, so that shells and Make take it unquoted;
 * `seed`: pacsalyzer's `Monday_boxplot_3m(Non-Holidays).png`.
 */
export function plotFileName(
  weekday: string,
  label: string,
  g: { suffix: string; tag: string },
  format: string,
  seed: boolean,
): string {
  if (seed) return `${weekday}_boxplot_${label}${g.suffix}.${format}`.replace(/ /g, "_");
  return (
    `${weekday}_boxplot_${label}${g.tag ? `_${g.tag}` : ""}`.replace(/[^A-Za-z0-9._-]+/g, "_") +
    `.${format}`
  );
}

export async function main(argv: string[], io: Io): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const { args, done } = await parseYargs(parser(packageVersion(import.meta.url)), argv, io);
    if (done) return 0;
    log.level = yargsLogLevel(args);
    const window = resolveWindow(args, "inclusive");
    const format = args.format as ImageFormat;
    const excludeZero = Boolean(args["exclude-zero"]);
    const calendar = args.holidays !== undefined ? await holidayCalendar(args.holidays) : undefined;
    // An unusable output location fails before any input is read.
    checkOutputFolder(args.output);
    const top10 = args["top10-output"];
    if (top10) checkOutputFolder(dirname(resolve(top10)), "folder of --top10-output");
    const t0 = Date.now();
    const collector = new Collector(window);
    const rowReports = await forEachAnalysisRecord(
      args._.map(String),
      io,
      (rec) => collector.add(rec),
      { required: ["StudyDate", "StudyTime"], fields: Collector.FIELDS },
    );
    const stopped = signalExitCode(io.signal);
    if (stopped) return stopped;
    const c = collector.data;
    const skipped = c.noDate + c.noTime;
    if (skipped)
      log.warn(
        `${skipped} of ${c.records} records without a usable StudyDate (${c.noDate}) or StudyTime (${c.noTime}) were left out`,
      );
    if (c.noUid)
      log.warn(`${c.noUid} records without StudyInstanceUID were counted as one study each`);
    if (rowReports) log.info(rowReportsNote(rowReports));
    log.info(
      `${c.records} records read, ${c.outside} outside the window (${describeWindow(window)}), ${c.studies} studies in ${c.counts.size} (date, hour) slots`,
    );
    const range = dateRange(window, c);
    if (!range)
      throw new ExitError(
        Exit.FAILURE,
        `no studies with a usable StudyDate and StudyTime in the window (${describeWindow(window)})`,
      );
    await makeOutputDirectory(args.output);

    const out = new RecordWriter(io.stdout);
    const save = async (name: string, data: Buffer) => {
      const path = join(args.output, name);
      await writeFile(path, data);
      await out.write({ path, bytes: data.length });
      log.info(`wrote ${path}`);
    };
    const holidays = calendar ? holidayDays(calendar, range.from, range.to) : undefined;
    if (holidays)
      log.info(
        `${holidays.size} public holidays (${args.holidays}) between ${formatDicomDate(range.from)} and ${formatDicomDate(range.to)}`,
      );
    const zeroNote = excludeZero
      ? "hours without studies left out"
      : "hours without studies count as 0";
    const medianRows: Array<{ weekday: string; medians: number[] }> = [];
    const boxplots: Chart[] = [];
    for (let w = 0; w < 7; w++) {
      const name = WEEKDAYS[w]!;
      const all: Sample[] = [];
      for (const g of weekdayGroups(w, range.from, range.to, holidays)) {
        const list = samples(c.counts, g.days, excludeZero);
        all.push(...list);
        const studies = list.reduce((n, s) => n + s.studies, 0);
        if (studies === 0) continue;
        const from = formatIsoDate(g.days[0]!);
        const to = formatIsoDate(g.days[g.days.length - 1]!);
        const title = `Study Distribution per Hour for ${name} (${window.label})${g.suffix ? ` ${g.suffix}` : ""}`;
        const subtitle = `${g.days.length} ${name}${g.days.length === 1 ? "" : "s"} ${from === to ? `on ${from}` : `from ${from} to ${to}`}, ${studies} studies; ${zeroNote}`;
        boxplots.push({
          file: plotFileName(name, window.label, g, format, Boolean(args["seed-names"])),
          spec: boxplotSpec({ title, subtitle, samples: list }),
        });
      }
      medianRows.push({ weekday: name, medians: hourlyMedians(all) });
    }
    if (holidays && holidays.size === 0)
      log.warn(`no public holidays of ${args.holidays} fall in the window`);

    // Median table: one row per weekday in calendar order, hours 0-23.
    const hours = Array.from({ length: 24 }, (_, h) => String(h));
    const excel = Boolean(args.excel);
    const csv = await toCsv(
      ["weekday", ...hours],
      medianRows.map((r) => [r.weekday, ...r.medians.map(fmt)]),
      excel,
    );
    const cells = medianRows.flatMap((r) =>
      r.medians.map((m, hour) => ({ weekday: r.weekday, hour, median: m })),
    );
    const overview: Chart = {
      file: `overview.${format}`,
      spec: heatmapSpec(
        `Median Studies per Hour and Weekday (${window.label})`,
        `${formatIsoDate(range.from)} to ${formatIsoDate(range.to)}, ${c.studies} studies; ${zeroNote}`,
        cells,
        WEEKDAYS,
      ),
    };
    // The files in the seed's order: the weekday plots, the median table, the overview (every
    // one, whoever still reads the records: `| head`).
    await drawInOrder([...boxplots, overview], format, log, async (chart, image) => {
      if (chart === overview) await save("median_per_hour_weekday.csv", csv);
      await save(chart.file, image);
    });

    const top = busiest(c.counts, 10);
    for (const s of top)
      log.info(
        `busy: ${formatIsoDate(s.day)} ${WEEKDAYS[isoWeekday(s.day)]} ${String(s.hour).padStart(2, "0")}h: ${s.studies} studies`,
      );
    if (top10) {
      await makeOutputDirectory(dirname(resolve(top10)), "folder of --top10-output");
      await writeCsvFile(
        top10,
        ["date", "weekday", "hour", "study_count"],
        top.map((s) => [formatIsoDate(s.day), WEEKDAYS[isoWeekday(s.day)]!, s.hour, s.studies]),
        excel,
      );
      log.info(`wrote ${top10}`);
    }
    await out.end();
    log.info(`${boxplots.length} weekday plots in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    return 0;
  });
}

/** CSV text through the shared writer (csv-stringify quoting; `excel`: for spreadsheets). */
async function toCsv(
  columns: string[],
  rows: Array<Array<string | number>>,
  excel: boolean,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      cb();
    },
  });
  const w = new RecordWriter(sink, { format: "csv", columns, excel });
  await w.writeHeader();
  for (const r of rows) await w.write(Object.fromEntries(columns.map((c, i) => [c, r[i]])));
  await w.end();
  return Buffer.concat(parts);
}

async function writeCsvFile(
  path: string,
  columns: string[],
  rows: Array<Array<string | number>>,
  excel: boolean,
): Promise<void> {
  await writeFile(path, await toCsv(columns, rows, excel)).catch((e: Error) => {
    throw new ExitError(Exit.FAILURE, `cannot write ${path}: ${e.message}`);
  });
}
