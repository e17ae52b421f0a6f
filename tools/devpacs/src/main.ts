/** devpacs command line: serve a folder until interrupted. */
import {
  parseArgs,
  formatHelp,
  generalOptions,
  resolveLogLevel,
  runTool,
  scpLimitOptions,
  scpLimits,
  UsageError,
  createLogger,
  type OptionSpec,
} from "@dicom-pipes/dimse/cli";
import { processIo } from "@dicom-pipes/dimse/io";
import { once } from "node:events";
import { startDevPacs } from "./index.js";

const TOOL = "devpacs";
const OPTIONS: OptionSpec[] = [
  ...generalOptions(),
  {
    key: "dir",
    flags: ["--dir"],
    kind: "value",
    metavar: "DIR",
    group: "devpacs",
    describe: "folder of DICOM files to serve (C-STOREs land here)",
  },
  {
    key: "port",
    flags: ["--port"],
    kind: "value",
    numeric: "int",
    min: 0,
    max: 65535,
    metavar: "PORT",
    group: "devpacs",
    describe: "port (default 0 = any free port)",
  },
  {
    key: "bind",
    flags: ["--bind"],
    kind: "value",
    metavar: "ADDR",
    group: "devpacs",
    describe: "address to bind (default 127.0.0.1)",
  },
  {
    key: "aet",
    flags: ["-aet", "--aetitle"],
    kind: "value",
    metavar: "AET",
    group: "devpacs",
    describe: "own AE title (default DEVPACS)",
  },
  ...scpLimitOptions(),
  {
    key: "moveDest",
    flags: ["--move-dest"],
    kind: "list",
    metavar: "AET=HOST:PORT",
    group: "devpacs",
    describe: "a C-MOVE destination (repeatable)",
  },
];

export async function main(argv: string[]): Promise<number> {
  const io = processIo();
  return runTool(
    TOOL,
    io,
    async (log) => {
      const p = parseArgs(argv, OPTIONS);
      if (p.opts.help) {
        io.stdout.write(
          formatHelp(
            {
              tool: TOOL,
              title: "development query/retrieve SCP over a folder",
              usage: `${TOOL} --dir DIR [--port N] [--aet AET] [--move-dest AET=HOST:PORT...]`,
            },
            OPTIONS,
          ),
        );
        return 0;
      }
      log.level = resolveLogLevel(p);
      const dir = p.opts.dir as string | undefined;
      if (!dir) throw new UsageError("--dir is required");
      const moveDestinations: Record<string, { host: string; port: number }> = {};
      for (const d of (p.opts.moveDest as string[] | undefined) ?? []) {
        const m = /^([^=]+)=([^:]+):(\d+)$/.exec(d);
        if (!m) throw new UsageError(`bad --move-dest ${d} (expected AET=HOST:PORT)`);
        moveDestinations[m[1]!] = { host: m[2]!, port: Number(m[3]) };
      }
      const pacs = await startDevPacs({
        dir,
        port: (p.opts.port as number | undefined) ?? 0,
        host: p.opts.bind as string | undefined,
        aet: p.opts.aet as string | undefined,
        log,
        moveDestinations,
        limits: scpLimits(p.opts),
      });
      io.stdout.write(
        JSON.stringify({ port: pacs.port, aet: pacs.aet, instances: pacs.archive.instances.size }) +
          "\n",
      );
      log.info(`serving ${pacs.archive.instances.size} instances from ${dir} on port ${pacs.port}`);
      await once(io.signal!, "abort");
      await pacs.close();
      return 0;
    },
    createLogger(TOOL, io.stderr),
  );
}
