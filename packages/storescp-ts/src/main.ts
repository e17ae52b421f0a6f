import { lookupService } from "node:dns/promises";
import { basename, dirname } from "node:path";
import { Tags } from "@dicom-pipes/dimse/dicom";
import {
  attachScp,
  serve,
  storageContexts,
  storeService,
  type Association,
  type DicomServer,
  type SyntaxPreference,
} from "@dicom-pipes/dimse/net";
import { layoutFor, LayoutError, type Layout } from "@dicom-pipes/dimse/records";
import { processIo, RecordWriter, type Io } from "@dicom-pipes/dimse/io";
import {
  recordFormat,
  Exit,
  ExitError,
  listenFailure,
  outputDecompressMode,
  outputDirectory,
  packageVersion,
  parsePort,
  runTool,
  scpLimits,
  startDcmtkTool,
  timeouts,
  tuneJit,
  UsageError,
  type CliLogger,
  type HelpText,
} from "@dicom-pipes/dimse/cli";
import { TempFolders, typedOptions } from "@dicom-pipes/dimse/app";
import type { DecompressMode } from "@dicom-pipes/dimse/codec";
import { OPTIONS, type StoreScpOptions } from "./options.js";
import { modalityPrefix, Namer, type Sort } from "./naming.js";
import { runCommand, StudyTracker, substitute } from "./hooks.js";

export { processIo };

const TOOL = "storescp-ts";

function help(): HelpText {
  return {
    tool: TOOL,
    title: "DICOM storage (C-STORE) SCP",
    usage: `${TOOL} [options] port`,
    parameters: [["port", "tcp/ip port number to listen on"]],
    description:
      "Stores every instance exactly as received (no re-encoding), any SOP class and any\n" +
      "transfer syntax, and answers Success only once the file is complete and in place.\n" +
      "Writes one record per stored object on stdout; logs on stderr. Runs until\n" +
      "SIGTERM or SIGINT, then finishes the objects in flight and exits.",
    examples: [
      `${TOOL} -aet ARCHIVE -od /data/incoming 11112 > received.ndjson`,
      `${TOOL} --layout '{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm' -od /data 11112`,
      `${TOOL} -od /data -su '' -xcs 'echo study done: #p' -tos 10 11112`,
    ],
    exits: [0, 1, 2, 45, 60],
  };
}

/** How long objects in flight may take to finish after SIGTERM/SIGINT (the bin's signal grace period is longer). */
export const FINISH_MS = 60_000;

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  return runTool(TOOL, io, async (log) => {
    const p = startDcmtkTool(TOOL, argv, OPTIONS, io, log, help(), () =>
      packageVersion(import.meta.url),
    );
    if (typeof p === "number") return p;
    const o = typedOptions<StoreScpOptions>(p);
    if (p.positionals.length === 0) throw new UsageError("Missing parameter port");
    if (p.positionals.length > 1)
      throw new UsageError(`Too many parameters: ${p.positionals.slice(1).join(" ")}`);
    const port = parsePort(p.positionals[0]!, true);
    const od = outputDirectory(o.outputDirectory, io);
    const lastSort = [...p.given]
      .reverse()
      .find((k) => k === "sortConc" || k === "sortStudy" || k === "sortPatient");
    const sort: Sort =
      lastSort === "sortConc"
        ? { kind: "conc", prefix: o.sortConc ?? "" }
        : lastSort === "sortStudy"
          ? { kind: "study", prefix: o.sortStudy ?? "" }
          : lastSort === "sortPatient"
            ? { kind: "patient" }
            : undefined;
    let layout: Layout | undefined;
    if (o.layout !== undefined) {
      if (sort) throw new UsageError("--layout cannot be combined with -su, -ss or -sp");
      try {
        layout = layoutFor(o.layout);
      } catch (e) {
        if (e instanceof LayoutError) throw new UsageError(e.message);
        throw e;
      }
    }
    if (o.renameOnEndOfStudy && !sort)
      throw new UsageError("--rename-on-eostudy needs one of -su, -ss, -sp");
    if (o.endOfStudyTimeout !== undefined && !sort && !o.execOnEndOfStudy && !o.renameOnEndOfStudy)
      throw new UsageError("--eostudy-timeout needs a sort option, -xcs or -rns");
    const { format, excel } = recordFormat(o.format, o.excel);
    const allow = (o.acceptCalling ?? [])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter(Boolean);
    return serveUntilSignal(
      {
        port,
        bind: o.bind,
        od,
        layout,
        namer: new Namer({
          naming: o.naming ?? "default",
          extension: o.extension ?? "",
          sort,
        }),
        allow,
        refuse: Boolean(o.refuse),
        ignore: Boolean(o.ignore),
        fsync: Boolean(o.fsync),
        decompress: outputDecompressMode(o),
        tsPref: o.tsPref ?? "sender",
        maxPdu: o.maxPdu,
        acseTimeoutMs: timeouts(o).acse,
        limits: scpLimits(o),
        hostLookup: !o.disableHostLookup,
        execOnReception: o.execOnReception,
        execSync: Boolean(o.execSync),
        tracker: new StudyTracker({
          onEndOfStudy: o.execOnEndOfStudy,
          rename: Boolean(o.renameOnEndOfStudy),
          timeoutSeconds: o.endOfStudyTimeout,
          sync: Boolean(o.execSync),
          stderr: io.stderr,
          log,
        }),
        writer: o.noOutput
          ? undefined
          : new RecordWriter(io.stdout, {
              format,
              excel,
              columns: format === "ndjson" ? undefined : COLUMNS,
            }),
      },
      io,
      log,
    );
  });
}

const COLUMNS = [
  "path",
  "bytes",
  "callingAet",
  "transferSyntax",
  "SOPClassUID",
  "SOPInstanceUID",
  "Modality",
  "PatientID",
  "StudyInstanceUID",
  "SeriesInstanceUID",
];

interface Settings {
  port: number;
  bind?: string;
  od: string;
  layout?: Layout;
  namer: Namer;
  allow: string[];
  refuse: boolean;
  ignore: boolean;
  fsync: boolean;
  decompress?: DecompressMode;
  tsPref: SyntaxPreference;
  maxPdu?: number;
  acseTimeoutMs: number;
  limits: ReturnType<typeof scpLimits>;
  hostLookup: boolean;
  execOnReception?: string;
  execSync: boolean;
  tracker: StudyTracker;
  writer?: RecordWriter;
}

async function serveUntilSignal(s: Settings, io: Io, log: CliLogger): Promise<number> {
  // The receive path is a thin layer over system calls: TurboFan only for what stays hot.
  tuneJit(15);
  // Temporary files live under the output directory, in a folder of this process's own;
  // those of killed runs go.
  const temps = new TempFolders(s.od, "storescp-ts");
  await temps.removeStale();
  const inflight = new Map<Association, number>();
  let stopping = false;
  let stored = 0;
  const hostNames = new Map<string, string>();
  const hostOf = async (addr: string): Promise<string> => {
    if (!s.hostLookup) return addr;
    let h = hostNames.get(addr);
    if (h === undefined) {
      try {
        // getnameinfo, as DCMTK's gethostbyaddr: /etc/hosts first, then DNS.
        h = (await lookupService(addr, 0)).hostname;
      } catch {
        h = addr;
      }
      hostNames.set(addr, h);
    }
    return h;
  };
  const service = storeService({
    tmpDir: temps.dir,
    fsync: s.fsync,
    decompress: s.decompress,
    ignore: s.ignore,
    log,
    target(inst) {
      const studyUid = inst.head.string(Tags.StudyInstanceUID) ?? "";
      return s.layout
        ? s.layout.resolveUnder(s.od, {
            dataset: inst.head,
            extra: {
              prefix: modalityPrefix(inst.sopClassUid),
              SOPInstanceUID: inst.sopInstanceUid,
              SOPClassUID: inst.sopClassUid,
            },
          })
        : s.namer.path(s.od, inst.head, inst.sopClassUid, inst.sopInstanceUid, studyUid);
    },
    async stored(inst, assoc) {
      stored++;
      const studyUid = inst.head.string(Tags.StudyInstanceUID) ?? "";
      if (s.writer?.ok) {
        await s.writer.write({
          path: inst.path,
          bytes: inst.bytes,
          callingAet: inst.callingAet,
          transferSyntax: inst.transferSyntax,
          SOPClassUID: inst.sopClassUid,
          SOPInstanceUID: inst.sopInstanceUid,
          Modality: inst.head.string(Tags.Modality) ?? null,
          PatientID: inst.head.string(Tags.PatientID) ?? null,
          StudyInstanceUID: studyUid || null,
          SeriesInstanceUID: inst.head.string(Tags.SeriesInstanceUID) ?? null,
        });
      }
      // The commands' context (#r: a reverse lookup) only when a command will run.
      if (!s.execOnReception && !s.tracker.active) return;
      const ctx = {
        callingAet: inst.callingAet,
        calledAet: inst.calledAet,
        host: await hostOf(assoc.socket.remoteAddress ?? ""),
      };
      if (s.execOnReception)
        await runCommand(
          substitute(s.execOnReception, {
            ...ctx,
            dir: dirname(inst.path),
            file: basename(inst.path),
          }),
          s.execSync,
          io.stderr,
          log,
        );
      await s.tracker.stored(studyUid, inst.path, modalityPrefix(inst.sopClassUid), ctx);
    },
  });
  if (!s.ignore)
    await service.receiver.ensureTmpDir().catch((e: Error) => {
      throw new ExitError(
        Exit.OUTPUT_DIR,
        `cannot write to the output directory ${s.od}: ${e.message}`,
      );
    });
  let server: DicomServer;
  try {
    server = await serve({
      port: s.port,
      host: s.bind,
      maxPdu: s.maxPdu,
      acseTimeoutMs: s.acseTimeoutMs,
      ...s.limits,
      log,
      decide(rq, peer) {
        log.info(`Association Received ${peer.address}: "${rq.callingAet}" -> "${rq.calledAet}"`);
        if (s.refuse || stopping) return { reject: { result: 1, source: 1, reason: 1 } };
        if (s.allow.length && !s.allow.includes(rq.callingAet)) {
          log.warn(
            `rejecting association from calling AE title "${rq.callingAet}" (not in --accept-calling)`,
          );
          return { reject: { result: 1, source: 1, reason: 3 } };
        }
        return { contexts: storageContexts(rq.contexts, s.tsPref) };
      },
      established(assoc) {
        log.info(`Association Acknowledged (Max Send PDV: ${assoc.maxPdvPayload})`);
        inflight.set(assoc, 0);
        assoc.on("closed", () => {
          inflight.delete(assoc);
          log.info(
            assoc.error ? `Association Aborted (${assoc.error.message})` : "Association Release",
          );
        });
        attachScp(
          assoc,
          {
            store: {
              open(cmd, ctx) {
                inflight.set(assoc, (inflight.get(assoc) ?? 0) + 1);
                log.info(
                  `Received Store Request (MsgID ${cmd.messageId}, ${modalityPrefix(cmd.affectedSopClassUid ?? "")})`,
                );
                return service.open(cmd, ctx, assoc);
              },
              finish: (req) => service.finish(req),
              responded() {
                inflight.set(assoc, (inflight.get(assoc) ?? 1) - 1);
                if (stopping && (inflight.get(assoc) ?? 0) <= 0) assoc.abort();
              },
            },
          },
          log,
        );
      },
    });
  } catch (e) {
    throw listenFailure(e);
  }
  log.debug(`listening on port ${server.port}`);

  // Run until SIGTERM/SIGINT: stop accepting, finish objects in flight, exit.
  await new Promise<void>((resolveStop) => {
    if (io.signal?.aborted) return resolveStop();
    io.signal?.addEventListener("abort", () => resolveStop(), { once: true });
  });
  stopping = true;
  log.info("stopping: finishing objects in flight");
  // The listening socket closes only once every connection has ended: end them first.
  const closed = server.stopListening();
  for (const [assoc, n] of inflight) if (n <= 0) assoc.abort();
  const deadline = Date.now() + FINISH_MS;
  while (inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  // What is left: associations still busy after the grace period, connections not yet associated.
  for (const assoc of server.associations) assoc.abort();
  await closed;
  await s.tracker.end();
  await s.writer?.end();
  await temps.remove();
  log.info(`${stored} objects stored`);
  return io.signal?.reason === "SIGINT" ? Exit.SIGINT : Exit.OK;
}
