/** dcmtk-shims: prints the folder of DCMTK-named commands that run the dicom-pipes tools. */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { processIo, type Io } from "@dicom-pipes/dimse/io";
import {
  generalOptions,
  printHelp,
  versionLine,
  type HelpText,
  packageVersion,
  parseArgs,
  runTool,
  UsageError,
} from "@dicom-pipes/dimse/cli";

export { processIo };

const TOOL = "dcmtk-shims";
const OPTIONS = generalOptions().filter((o) => o.key === "help" || o.key === "version");
/** The commands in the folder, and what each runs. */
export const SHIMS: Record<string, string> = {
  findscu: "findscu-ts",
  movescu: "movescu-ts",
  getscu: "getscu-ts",
  storescu: "storescu-ts",
  storescp: "storescp-ts",
  echoscu: "echoscu-ts",
};

/** The shims folder, links resolved (so the commands find the tools beside them). */
export function shimsDir(): string {
  return realpathSync(fileURLToPath(new URL("../shims", import.meta.url)));
}

function help(): HelpText {
  return {
    tool: TOOL,
    title: "DCMTK-named commands that run the dicom-pipes tools",
    usage: `${TOOL} [--help] [--version]`,
    description:
      "Prints the folder that holds findscu, movescu, getscu, storescu, storescp and echoscu:\n" +
      "put it first on PATH and a script written for DCMTK runs on findscu-ts, movescu-ts, ...\n" +
      "with the same arguments. Records on stdout are off, as DCMTK writes none.",
    examples: [
      `export PATH="$(npx --no-install ${TOOL}):$PATH"`,
      `PATH="$(${TOOL}):$PATH" ./legacy-pull.sh accessions.txt`,
    ],
    exits: [0, 2],
  };
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async () => {
    const p = parseArgs(argv, OPTIONS);
    if (p.opts.help) printHelp(io, help(), OPTIONS);
    else if (p.opts.version)
      io.stdout.write(`${versionLine(TOOL, packageVersion(import.meta.url))}\n`);
    else if (p.positionals.length)
      throw new UsageError(`Too many parameters: ${p.positionals.join(" ")}`);
    else io.stdout.write(`${shimsDir()}\n`);
    return 0;
  });
}
