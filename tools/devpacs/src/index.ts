/** devpacs: a query/retrieve SCP over a folder of DICOM files (demo and fast tests only). */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildPart10Prefix, SopClass, Tags, UNCOMPRESSED_SYNTAXES, TransferSyntax } from "@dicom-pipes/dimse/dicom";
import { attachScp, DimseFailure, negotiateContexts, serve, type DicomServer, type Logger } from "@dicom-pipes/dimse/net";
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
}

export interface DevPacs {
  readonly port: number;
  readonly aet: string;
  readonly archive: Archive;
  close(): Promise<void>;
}

const FIND_MODELS = new Set<string>([SopClass.PatientRootFind, SopClass.StudyRootFind, SopClass.PatientStudyOnlyFind]);
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
    log,
    decide(rq) {
      if (o.strictCalledAet && rq.calledAet !== aet) return { reject: { result: 1, source: 1, reason: 7 } };
      return {
        contexts: negotiateContexts(rq.contexts, (as) => {
          if (as === SopClass.Verification || FIND_MODELS.has(as)) return UNCOMPRESSED_SYNTAXES;
          if (as.startsWith("1.2.840.10008.5.1.4.1.1.")) return rq.contexts.find((c) => c.abstractSyntax === as)?.transferSyntaxes ?? [];
          return undefined;
        }),
      };
    },
    established(assoc) {
      const temps = new Map<object, string>();
      attachScp(
        assoc,
        {
          async *find(req) {
            if (!FIND_MODELS.has(req.context.abstractSyntax)) throw new DimseFailure(0x0122, "SOP class not supported");
            const level = (req.identifier.string(Tags.QueryRetrieveLevel) ?? "").toUpperCase();
            if (!LEVELS.has(level)) throw new DimseFailure(0xa900, `bad QueryRetrieveLevel "${level}"`);
            for (const ds of archive.find(req.identifier, level as Level)) {
              if (req.signal.aborted) return;
              yield ds;
            }
          },
          store: {
            open(cmd, ctx) {
              const tmp = join(incoming, `${process.pid}-${++seq}.part`);
              const sink = createWriteStream(tmp);
              sink.write(buildPart10Prefix({ sopClassUID: cmd.affectedSopClassUid ?? "", sopInstanceUID: cmd.affectedSopInstanceUid ?? "", transferSyntax: ctx.transferSyntax, sourceAet: assoc.rq.callingAet }));
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
