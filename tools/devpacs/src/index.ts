/** devpacs: a query/retrieve SCP over a folder of DICOM files (demo and fast tests only). */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  buildPart10Prefix,
  SopClass,
  Tags,
  UNCOMPRESSED_SYNTAXES,
  TransferSyntax,
} from "@dicom-pipes/dimse/dicom";
import {
  attachScp,
  connect,
  contextForFile,
  DimseFailure,
  fileToSend,
  negotiateContexts,
  serve,
  statusClass,
  storeFile,
  type Association,
  type ContextProposal,
  type DicomServer,
  type Logger,
  type MoveGetRequest,
  type MoveGetResult,
  type ServeOptions,
} from "@dicom-pipes/dimse/net";
import { Archive, type Level } from "./archive.js";

export { Archive } from "./archive.js";

export interface DevPacsOptions {
  dir: string;
  port?: number;
  host?: string;
  aet?: string;
  log?: Logger;
  /** Reject associations whose called AE title differs from `aet`. */
  strictCalledAet?: boolean;
  /** C-MOVE destinations by AE title. */
  moveDestinations?: Record<string, { host: string; port: number }>;
  /** DIMSE timeout, association and message limits (serve()'s defaults otherwise). */
  limits?: Pick<ServeOptions, "dimseTimeoutMs" | "maxAssociations" | "maxMessageBytes">;
}

export interface DevPacs {
  readonly port: number;
  readonly aet: string;
  readonly archive: Archive;
  close(): Promise<void>;
}

const FIND_MODELS = new Set<string>([
  SopClass.PatientRootFind,
  SopClass.StudyRootFind,
  SopClass.PatientStudyOnlyFind,
]);
const RETRIEVE_MODELS = new Set<string>([
  SopClass.PatientRootMove,
  SopClass.StudyRootMove,
  SopClass.PatientStudyOnlyMove,
  SopClass.PatientRootGet,
  SopClass.StudyRootGet,
  SopClass.PatientStudyOnlyGet,
]);
const LEVELS = new Set(["PATIENT", "STUDY", "SERIES", "IMAGE"]);

export async function startDevPacs(o: DevPacsOptions): Promise<DevPacs> {
  const aet = o.aet ?? "DEVPACS";
  const log = o.log;
  const archive = await Archive.load(o.dir, (p, why) => log?.warn(`skipping ${p}: ${why}`));
  const incoming = join(o.dir, ".incoming");
  await mkdir(incoming, { recursive: true });
  let seq = 0;
  const server: DicomServer = await serve({
    port: o.port ?? 0,
    host: o.host ?? "127.0.0.1",
    ...o.limits,
    log,
    decide(rq) {
      if (o.strictCalledAet && rq.calledAet !== aet)
        return { reject: { result: 1, source: 1, reason: 7 } };
      return {
        contexts: negotiateContexts(rq.contexts, (as) => {
          if (as === SopClass.Verification || FIND_MODELS.has(as) || RETRIEVE_MODELS.has(as))
            return UNCOMPRESSED_SYNTAXES;
          if (as.startsWith("1.2.840.10008.5.1.4.1.1."))
            return rq.contexts.find((c) => c.abstractSyntax === as)?.transferSyntaxes ?? [];
          return undefined;
        }),
        // C-GET: take the storage SCP role the requestor asks for.
        roles: rq.roles.map((r) => ({ sopClass: r.sopClass, scu: r.scu, scp: r.scp })),
      };
    },
    established(assoc) {
      const temps = new Map<object, string>();
      attachScp(
        assoc,
        {
          async *find(req) {
            if (!FIND_MODELS.has(req.context.abstractSyntax))
              throw new DimseFailure(0x0122, "SOP class not supported");
            const level = (req.identifier.string(Tags.QueryRetrieveLevel) ?? "").toUpperCase();
            if (!LEVELS.has(level))
              throw new DimseFailure(0xa900, `bad QueryRetrieveLevel "${level}"`);
            for (const ds of archive.find(req.identifier, level as Level)) {
              if (req.signal.aborted) return;
              yield ds;
            }
          },
          move: (req) => retrieveTo(req, "move"),
          get: (req) => retrieveTo(req, "get"),
          store: {
            open(cmd, ctx) {
              const tmp = join(incoming, `${process.pid}-${++seq}.part`);
              const sink = createWriteStream(tmp);
              sink.write(
                buildPart10Prefix({
                  sopClassUID: cmd.affectedSopClassUid ?? "",
                  sopInstanceUID: cmd.affectedSopInstanceUid ?? "",
                  transferSyntax: ctx.transferSyntax,
                  sourceAet: assoc.rq.callingAet,
                }),
              );
              temps.set(sink, tmp);
              return sink;
            },
            async finish(req) {
              const tmp = temps.get(req.sink)!;
              temps.delete(req.sink);
              if (req.error) {
                await rm(tmp, { force: true });
                return { status: 0xa700, comment: req.error.message };
              }
              const uid = req.command.affectedSopInstanceUid ?? "";
              const dest = join(o.dir, `${uid.replace(/[^0-9.]/g, "_")}.dcm`);
              await rename(tmp, dest);
              try {
                await archive.addFile(dest);
              } catch (e) {
                await rm(dest, { force: true });
                return { status: 0xc000, comment: `cannot index: ${(e as Error).message}` };
              }
              log?.info(`stored ${dest}`);
              return { status: 0x0000 };
            },
          },
        },
        log,
      );
    },
  });
  /** Send the instances a C-MOVE or C-GET identifier selects, as sub-operations. */
  async function retrieveTo(req: MoveGetRequest, kind: "move" | "get"): Promise<MoveGetResult> {
    const level = (req.identifier.string(Tags.QueryRetrieveLevel) ?? "").toUpperCase();
    if (!LEVELS.has(level)) throw new DimseFailure(0xa900, `bad QueryRetrieveLevel "${level}"`);
    const files = archive.select(req.identifier, level as Level);
    const counts = { remaining: files.length, completed: 0, failed: 0, warning: 0 };
    if (files.length === 0) return { status: 0, ...counts };
    let sub: Association = req.assoc;
    if (kind === "move") {
      const dest = req.command.moveDestination ?? "";
      const target = o.moveDestinations?.[dest];
      if (!target) throw new DimseFailure(0xa801, `Move destination unknown: ${dest}`);
      const seen = new Set<string>();
      const contexts: ContextProposal[] = [];
      for (const f of files) {
        const k = `${f.sopClassUid}|${f.transferSyntax}`;
        if (seen.has(k)) continue;
        seen.add(k);
        contexts.push({ abstractSyntax: f.sopClassUid, transferSyntaxes: [f.transferSyntax] });
      }
      try {
        sub = await connect({
          host: target.host,
          port: target.port,
          callingAet: aet,
          calledAet: dest,
          contexts: contexts.slice(0, 128),
          log,
        });
      } catch (e) {
        throw new DimseFailure(0xa702, `cannot reach ${dest}: ${(e as Error).message}`);
      }
    }
    const failedUids: string[] = [];
    try {
      for (const inst of files) {
        if (req.signal.aborted) break;
        counts.remaining--;
        try {
          const file = await fileToSend(inst.path);
          const pc = contextForFile(sub, file);
          if (!pc) throw new Error("no presentation context");
          const r = await storeFile(
            sub,
            file,
            pc,
            kind === "move"
              ? {
                  moveOriginator: {
                    aet: req.assoc.rq.callingAet,
                    messageId: req.command.messageId ?? 0,
                  },
                }
              : {},
          );
          const cls = statusClass(r.status);
          if (cls === "Success") counts.completed++;
          else if (cls === "Warning") counts.warning++;
          else {
            counts.failed++;
            failedUids.push(inst.sopInstanceUid);
          }
        } catch (e) {
          log?.warn(`sub-operation for ${inst.sopInstanceUid} failed: ${(e as Error).message}`);
          counts.failed++;
          failedUids.push(inst.sopInstanceUid);
          if (sub.closed || sub.error) break;
        }
        if (counts.remaining > 0) await req.progress(counts);
      }
    } finally {
      if (kind === "move") await sub.release().catch(() => undefined);
    }
    counts.failed += counts.remaining;
    const status = req.signal.aborted
      ? 0xfe00
      : counts.failed > 0
        ? counts.completed + counts.warning > 0
          ? 0xb000
          : 0xa702
        : 0;
    return {
      status,
      ...counts,
      remaining: 0,
      failedInstances: failedUids.length ? failedUids : undefined,
    };
  }

  return {
    port: server.port,
    aet,
    archive,
    async close() {
      await server.close(2000);
      await rm(incoming, { recursive: true, force: true });
    },
  };
}

export { TransferSyntax };
