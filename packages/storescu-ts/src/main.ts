import { processIo, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  packageVersion,
  runTool,
  sendDecompress,
  startDcmtkTool,
  stdinHasData,
  tuneJit,
  UsageError,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import {
  outputSettings,
  progressBar,
  resultWriter,
  proposedSyntaxes,
  scuSettings,
  typedOptions,
} from "@dicom-pipes/dimse/app";
import { OPTIONS, type StoreOptions } from "./options.js";
import { SendRun, type SendSettings } from "./send.js";
import { argumentFiles, openPaths, streamPaths, wildcard } from "./inputs.js";

export { processIo };

const TOOL = "storescu-ts";

function help(): HelpText {
  return {
    tool: TOOL,
    title: "DICOM storage (C-STORE) SCU",
    usage: `${TOOL} [options] peer port [dcmfile-in...]`,
    parameters: [
      ["peer", "hostname of DICOM peer"],
      ["port", "tcp/ip port number of peer"],
      [
        "dcmfile-in",
        'DICOM file or directory to be transmitted; without\nany, paths are read from stdin (lines or NDJSON "path")',
      ],
    ],
    description:
      "Sends files exactly as they are (no re-encoding) in their own transfer syntax when\n" +
      "the peer accepts it, converting only between uncompressed syntaxes otherwise.\n" +
      "Writes one result record per file on stdout; logs and progress on stderr.",
    examples: [
      `${TOOL} -aec PACS pacs 104 +sd +r /data/study`,
      [`storescp-ts -od /data 11112 | ${TOOL} -aec ARCHIVE archive 104`, "forward what arrives"],
      `find /data -name '*.dcm' | ${TOOL} -j 4 -nh -aec PACS pacs 104 > results.ndjson`,
    ],
    epilogue:
      "Exit status as DCMTK storescu where it signals something: when a store fails\n" +
      "(halting, the default) the status is the failed status >> 8 (0xA700 → 167), and 10\n" +
      "when the peer aborts; -nh exits 3 when some files failed (DCMTK: 0).",
    exits: [0, 1, 2, 3, 10, 61],
  };
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = typedOptions<StoreOptions>(p);
    const scu = scuSettings(o, p.positionals, io, { aet: "STORESCU" });
    const files = scu.rest;
    const out = outputSettings(o, io, log);
    const s: SendSettings = {
      ...scu,
      jobs: o.jobs ?? 1,
      halt: o.halt ?? true,
      rename: Boolean(o.rename),
      abort: Boolean(o.abortAssoc),
      decompress: sendDecompress(o),
      fallback: proposedSyntaxes(
        o.proposal === "implicit" || o.proposal === "big" ? o.proposal : undefined,
      ),
    };
    const inputArg = o.input;
    const useStdinArg = files.includes("-");
    const argFiles = files.filter((f) => f !== "-");
    if (inputArg !== undefined && argFiles.length)
      throw new UsageError("--input and file arguments cannot be combined");
    let source: AsyncIterable<string>;
    let prescan = false;
    if (argFiles.length && !useStdinArg) {
      source = argumentFiles(argFiles, {
        scanDirectories: Boolean(o.scanDirectories),
        recurse: Boolean(o.recurse),
        pattern: o.scanPattern !== undefined ? wildcard(o.scanPattern) : undefined,
        log,
      });
      prescan = true;
      if (inputArg === undefined && stdinHasData(io))
        log.warn("stdin is not read; it is read only without file arguments");
    } else if (inputArg !== undefined || useStdinArg || !io.stdin.isTTY) {
      const name = inputArg ?? "-";
      source = streamPaths(
        openPaths(name, io.stdin),
        name === "-" ? "stdin" : name,
        io.cwd ?? process.cwd(),
      );
    } else throw new UsageError("no input files: give files or directories, or paths on stdin");
    const writer = resultWriter(out, io, {
      columns: [
        "path",
        "status",
        "statusCode",
        "error",
        "SOPClassUID",
        "SOPInstanceUID",
        ...(s.retry.retries ? ["attempts"] : []),
      ],
    });
    const progress = progressBar(out, io);
    // A few thousand files: TurboFan only for what stays hot (about a sixth less CPU per file).
    tuneJit(8);
    const run = new SendRun(s, io, log, writer, progress);
    let code: number;
    try {
      code = await run.run(source, prescan);
    } finally {
      progress.finish(log, run.counts());
    }
    await writer?.end();
    return signalExitCode(io.signal) ?? code;
  });
}
