/** gen-archive: write a synthetic DICOM archive; prints one JSON summary line on stdout. */
import {
  choiceOption,
  Exit,
  generalOptions,
  packageVersion,
  runTool,
  startDcmtkTool,
  UsageError,
  type HelpText,
  type OptionSpec,
} from "@dicom-pipes/dimse/cli";
import { processIo, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  generateArchive,
  OptionError,
  parseRange,
  type CountRange,
  type GenerateOptions,
  type Layout,
  type SyntaxName,
} from "./generate.js";

export { processIo };

const TOOL = "gen-archive";
const ARCHIVE = "archive options";
const IMAGE = "image options";
const OUTPUT = "output options";

export const OPTIONS: OptionSpec[] = [
  ...generalOptions(),
  {
    key: "out",
    flags: ["-o", "--out"],
    kind: "value",
    metavar: "DIR",
    group: ARCHIVE,
    describe: "output directory, created when missing (required)",
  },
  {
    key: "patients",
    flags: ["--patients"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "N",
    group: ARCHIVE,
    describe: "number of patients (default: 12)",
  },
  {
    key: "seed",
    flags: ["--seed"],
    kind: "value",
    metavar: "S",
    group: ARCHIVE,
    describe: "random seed, any string; same seed = identical files\n(default: 1)",
  },
  {
    key: "studies",
    flags: ["--studies-per-patient"],
    kind: "value",
    metavar: "A-B",
    group: ARCHIVE,
    describe: "studies per patient, A or A-B (default: 1-3)",
  },
  {
    key: "series",
    flags: ["--series-per-study"],
    kind: "value",
    metavar: "A-B",
    group: ARCHIVE,
    describe: "series per study, A or A-B (default: 1-4)",
  },
  {
    key: "instances",
    flags: ["--instances-per-series"],
    kind: "value",
    metavar: "A-B",
    group: ARCHIVE,
    describe: "instances per series, A or A-B (default: 1-6)",
  },
  {
    key: "maxInstances",
    flags: ["--max-instances"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "N",
    group: ARCHIVE,
    describe: "stop after N instances",
  },
  {
    key: "startDate",
    flags: ["--start-date"],
    kind: "value",
    metavar: "YYYYMMDD",
    group: ARCHIVE,
    describe: "first possible study date (default: 20240101,\nor 364 days before --end-date)",
  },
  {
    key: "endDate",
    flags: ["--end-date"],
    kind: "value",
    metavar: "YYYYMMDD",
    group: ARCHIVE,
    describe: "last possible study date (default: 20241231,\nor 364 days after --start-date)",
  },
  {
    key: "rows",
    flags: ["--rows"],
    kind: "value",
    numeric: "int",
    min: 1,
    max: 65535,
    metavar: "R",
    group: IMAGE,
    describe: "image rows (default: 64, or --cols)",
  },
  {
    key: "cols",
    flags: ["--cols", "--columns"],
    kind: "value",
    numeric: "int",
    min: 1,
    max: 65535,
    metavar: "C",
    group: IMAGE,
    describe: "image columns (default: 64, or --rows)",
  },
  {
    key: "bits",
    flags: ["--bits"],
    kind: "value",
    numeric: "int",
    metavar: "8|16",
    group: IMAGE,
    describe: "bits allocated for every modality\n(default: 8 for US, 16 for the others)",
  },
  {
    key: "layout",
    flags: ["--layout"],
    kind: "value",
    metavar: "hierarchy|flat",
    group: OUTPUT,
    describe:
      "hierarchy: DIR/PatientID/StudyUID/SeriesUID/SOPUID.dcm\n(default); flat: DIR/SOPUID.dcm",
  },
  {
    key: "transferSyntax",
    flags: ["--transfer-syntax"],
    kind: "value",
    metavar: "explicit|implicit|big",
    group: OUTPUT,
    describe:
      "explicit VR little endian (default), implicit VR\nlittle endian or explicit VR big endian",
  },
];

function help(): HelpText {
  return {
    tool: TOOL,
    title: "write a synthetic DICOM archive",
    usage: `${TOOL} --out DIR [options]`,
    description:
      "Writes a deterministic, realistic archive of Part 10 files (CT, MR, CR, US, PT;\n" +
      "non-ASCII names; private tags) and prints one JSON summary line on stdout.\n" +
      "Logs go to stderr.",
    examples: [
      `${TOOL} --out /tmp/archive`,
      `${TOOL} --out /tmp/big --patients 1000 --instances-per-series 10-20 --max-instances 50000`,
      `${TOOL} --out /tmp/large --patients 10 --studies-per-patient 1 --series-per-study 1 --instances-per-series 10 --rows 512 --bits 16`,
      `${TOOL} --out /tmp/flat --layout flat --transfer-syntax big --start-date 20250101 --end-date 20250331`,
    ],
    epilogue:
      "Exit status:\n" +
      "  0    archive written\n" +
      "  1    failure (I/O error, e.g. the output directory is not writable)\n" +
      "  2    usage error\n" +
      "  130  interrupted (SIGINT), 143 terminated (SIGTERM)",
  };
}

function rangeOpt(v: unknown, flag: string): CountRange | undefined {
  if (v === undefined) return undefined;
  const r = parseRange(String(v));
  if (!r || r[0] < 1 || r[1] < r[0])
    throw new UsageError(
      `Invalid parameter value ${String(v)} for option ${flag} (A or A-B, 1 <= A <= B)`,
    );
  return r;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = p.opts;
    if (p.positionals.length) throw new UsageError(`Unexpected parameter ${p.positionals[0]!}`);
    if (!o.out) throw new UsageError("Missing option --out");
    if (o.bits !== undefined && o.bits !== 8 && o.bits !== 16)
      throw new UsageError(`Invalid parameter value ${String(o.bits)} for option --bits (8, 16)`);
    for (const k of ["startDate", "endDate"] as const) {
      if (o[k] !== undefined && !/^\d{8}$/.test(String(o[k])))
        throw new UsageError(
          `Invalid parameter value ${String(o[k])} for option --${k === "startDate" ? "start" : "end"}-date (YYYYMMDD)`,
        );
    }
    const opts: GenerateOptions = {
      out: String(o.out),
      patients: o.patients as number | undefined,
      seed: o.seed as string | undefined,
      studiesPerPatient: rangeOpt(o.studies, "--studies-per-patient"),
      seriesPerStudy: rangeOpt(o.series, "--series-per-study"),
      instancesPerSeries: rangeOpt(o.instances, "--instances-per-series"),
      maxInstances: o.maxInstances as number | undefined,
      rows: o.rows as number | undefined,
      cols: o.cols as number | undefined,
      bits: o.bits as 8 | 16 | undefined,
      startDate: o.startDate as string | undefined,
      endDate: o.endDate as string | undefined,
      layout: choiceOption<Layout>(o.layout, "--layout", ["hierarchy", "flat"], "hierarchy"),
      transferSyntax: choiceOption<SyntaxName>(
        o.transferSyntax,
        "--transfer-syntax",
        ["explicit", "implicit", "big"],
        "explicit",
      ),
      signal: io.signal,
      onInstance: (n) => {
        if (n % 5000 === 0) log.info(`${n} instances written`);
      },
    };
    const t0 = performance.now();
    let summary;
    try {
      summary = await generateArchive(opts);
    } catch (e) {
      const sig = signalExitCode(io.signal);
      if (sig !== undefined) return sig;
      if (e instanceof OptionError) throw new UsageError(e.message);
      throw e;
    }
    const secs = (performance.now() - t0) / 1000;
    log.info(
      `${summary.instances} instances, ${summary.series} series, ${summary.studies} studies, ${summary.patients} patients, ${(summary.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(2)} s`,
    );
    io.stdout.write(`${JSON.stringify(summary)}\n`);
    return Exit.OK;
  });
}
