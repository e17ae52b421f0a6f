/** echoscu-ts: DICOM verification (C-ECHO) SCU, DCMTK echoscu compatible, with one NDJSON record per echo. */
import { performance } from "node:perf_hooks";
import { SopClass } from "@dicom-pipes/dimse/dicom";
import {
  echo,
  NetError,
  statusClass,
  statusHex,
  statusText,
  withRetries,
  type Association,
} from "@dicom-pipes/dimse/net";
import { processIo, RecordWriter, signalExitCode, type Io } from "@dicom-pipes/dimse/io";
import {
  associationFailure,
  connectPeer,
  endAssociation,
  Exit,
  generalOptions,
  NETWORK,
  OUTPUT,
  packageVersion,
  retryOptions,
  runTool,
  scuNetworkOptions,
  startDcmtkTool,
  UsageError,
  type CliLogger,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import {
  scuSettings,
  typedOptions,
  type GeneralOptions,
  type OptionTable,
  type OutputOptions,
  type ScuNetworkOptions,
  type ScuSettings,
} from "@dicom-pipes/dimse/app";

export { processIo };

const TOOL = "echoscu-ts";
const DEBUGGING = "association negotiation debugging";

/**
 * The transfer syntaxes DCMTK echoscu proposes for Verification, in its
 * order; `-pts n` proposes the first n (a test compares with DCMTK).
 */
const SYNTAXES = [
  "1.2.840.10008.1.2",
  "1.2.840.10008.1.2.1",
  "1.2.840.10008.1.2.2",
  ...Array.from({ length: 17 }, (_, i) => `1.2.840.10008.1.2.4.${50 + i}`),
  "1.2.840.10008.1.2.4.70",
  "1.2.840.10008.1.2.5",
  "1.2.840.10008.1.2.1.99",
  "1.2.840.10008.1.2.4.80",
  "1.2.840.10008.1.2.4.81",
  "1.2.840.10008.1.2.4.90",
  "1.2.840.10008.1.2.4.91",
  "1.2.840.10008.1.2.4.92",
  "1.2.840.10008.1.2.4.93",
  ...Array.from({ length: 9 }, (_, i) => `1.2.840.10008.1.2.4.${100 + i}`),
];

/** Every option echoscu-ts reads, typed. */
interface EchoOptions extends GeneralOptions, ScuNetworkOptions, OutputOptions {
  proposeTs?: number;
  proposePc?: number;
  repeat?: number;
  abortAssoc?: boolean;
}

export const OPTIONS: OptionTable<EchoOptions> = [
  ...generalOptions(),
  ...scuNetworkOptions({ aet: "ECHOSCU" }),
  ...retryOptions(),
  {
    key: "proposeTs",
    flags: ["-pts", "--propose-ts"],
    kind: "value",
    numeric: "int",
    min: 1,
    max: SYNTAXES.length,
    metavar: "[n]umber",
    group: DEBUGGING,
    describe: `propose n transfer syntaxes (1..${SYNTAXES.length}, default 1)`,
  },
  {
    key: "proposePc",
    flags: ["-ppc", "--propose-pc"],
    kind: "value",
    numeric: "int",
    min: 1,
    max: 128,
    metavar: "[n]umber",
    group: DEBUGGING,
    describe: "propose n presentation contexts (1..128, default 1)",
  },
  {
    key: "repeat",
    flags: ["--repeat"],
    kind: "value",
    numeric: "int",
    min: 1,
    metavar: "[n]umber",
    group: NETWORK,
    describe: "repeat n times (one association)",
  },
  {
    key: "abortAssoc",
    flags: ["--abort"],
    kind: "flag",
    group: NETWORK,
    describe: "abort association instead of releasing it",
  },
  {
    key: "noOutput",
    flags: ["--no-output"],
    kind: "flag",
    group: OUTPUT,
    describe: "write no records to stdout (as DCMTK echoscu)",
  },
];

function help(): HelpText {
  return {
    tool: TOOL,
    title: "DICOM verification (C-ECHO) SCU",
    usage: `${TOOL} [options] peer port`,
    parameters: [
      ["peer", "hostname of DICOM peer"],
      ["port", "tcp/ip port number of peer"],
    ],
    description:
      'Writes one NDJSON record per echo on stdout ({"peer","aec","status","statusCode","ms"}),\n' +
      "and one for a failed association; logs go to stderr.",
    examples: [
      `${TOOL} -aec PACS pacs 104 && findscu-ts -S -aec PACS pacs 104 ...`,
      `${TOOL} -aec PACS --repeat 10 pacs 104 | jq .ms`,
    ],
    epilogue:
      "Exit status differs from DCMTK echoscu: a failed association exits 61 (DCMTK: 1),\n" +
      "an echo answered with a status other than Success exits 1 (DCMTK: 0).",
    exits: [0, 1, 2, 61],
  };
}

interface Settings extends ScuSettings {
  contexts: number;
  syntaxes: string[];
  repeat: number;
  abort: boolean;
  output: boolean;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = typedOptions<EchoOptions>(p);
    const scu = scuSettings(o, p.positionals, io, { aet: "ECHOSCU" });
    if (scu.rest.length) throw new UsageError(`Too many parameters: ${scu.rest.join(" ")}`);
    return run(
      {
        ...scu,
        contexts: o.proposePc ?? 1,
        syntaxes: SYNTAXES.slice(0, o.proposeTs ?? 1),
        repeat: o.repeat ?? 1,
        abort: Boolean(o.abortAssoc),
        output: !o.noOutput,
      },
      io,
      log,
    );
  });
}

async function run(s: Settings, io: Io, log: CliLogger): Promise<number> {
  const writer = new RecordWriter(io.stdout);
  // Association attempts (--retries), in each record.
  let attempts = 1;
  const record = async (r: Record<string, unknown>) => {
    if (s.output)
      await writer.write({
        peer: `${s.peer}:${s.port}`,
        aec: s.call,
        ...r,
        ...(s.retry.retries ? { attempts } : {}),
      });
  };
  let assoc: Association;
  try {
    const opened = await withRetries(
      { policy: s.retry, signal: io.signal, warn: (m) => log.warn(m) },
      async (n) => {
        attempts = n;
        return {
          value: await connectPeer(
            s,
            Array.from({ length: s.contexts }, () => ({
              abstractSyntax: SopClass.Verification,
              transferSyntaxes: s.syntaxes,
            })),
            log,
          ),
        };
      },
    );
    assoc = opened.value;
  } catch (e) {
    if (!(e instanceof NetError)) throw e;
    const failure = associationFailure(e);
    await record({ status: "Failure", error: [failure.message, ...failure.details].join(" ") });
    await writer.end();
    throw failure;
  }
  let failed = 0;
  try {
    for (let i = 0; i < s.repeat && !io.signal?.aborted; i++) {
      log.info(`Sending Echo Request (MsgID ${i + 1})`); // a fresh association numbers from 1
      const t0 = performance.now();
      const status = await echo(assoc, { dimseTimeoutMs: s.timeouts.dimse });
      const ms = Math.round((performance.now() - t0) * 1000) / 1000;
      log.info(`Received Echo Response (${statusText(status, "echo")})`);
      if (status !== 0) failed++;
      await record({ status: statusClass(status), statusCode: statusHex(status), ms });
    }
  } catch (e) {
    if (!(e instanceof NetError)) throw e;
    log.error(`Echo SCU Failed: ${e.condition}`);
    assoc.abort();
    await record({ status: "Failure", error: e.condition });
    await writer.end();
    return Exit.FAILURE;
  }
  await endAssociation(assoc, s.abort, log);
  await writer.end();
  return signalExitCode(io.signal) ?? (failed > 0 ? Exit.FAILURE : Exit.OK);
}
