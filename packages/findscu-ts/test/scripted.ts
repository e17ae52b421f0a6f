/**
 * A scripted C-FIND SCP for tests of behaviour no real archive produces on
 * demand: 0xFF01 pendings, failure statuses, aborts, silence, rejections.
 * It records what it received (requests, C-CANCELs).
 */
import {
  serve,
  negotiateContexts,
  CommandField,
  type Association,
  type DicomServer,
  type Message,
} from "@dicom-pipes/dimse/net";
import {
  Dataset,
  encodeDataset,
  parseDataset,
  SopClass,
  UNCOMPRESSED_SYNTAXES,
  Tags,
} from "@dicom-pipes/dimse/dicom";

export interface Script {
  /** Accept the find models (default true). */
  acceptFind?: boolean;
  /** The transfer syntaxes accepted, in order of preference (default: the uncompressed ones, explicit little endian first). */
  syntaxes?: readonly string[];
  /** Reject the association with (result, source, reason). */
  reject?: [number, number, number];
  /** Called for each C-FIND request; drives the responses. */
  onFind?(ctx: FindContext): Promise<void> | void;
}

export interface FindContext {
  assoc: Association;
  msg: Message;
  identifier: Dataset;
  pending(ds: Dataset, status?: number): Promise<void>;
  final(status: number, errorComment?: string): Promise<void>;
  cancelled(): boolean;
}

export interface Recorder {
  /** The transfer syntaxes proposed for the find models, per association. */
  proposals: string[][];
  finds: Dataset[];
  cancels: number[];
  releases: number;
  server: DicomServer;
  port: number;
  close(): Promise<void>;
}

export async function scriptedScp(script: Script): Promise<Recorder> {
  const rec = {
    proposals: [] as string[][],
    finds: [] as Dataset[],
    cancels: [] as number[],
    releases: 0,
  } as Recorder;
  const server = await serve({
    port: 0,
    host: "127.0.0.1",
    decide(rq) {
      for (const pc of rq.contexts)
        if (
          pc.abstractSyntax === SopClass.StudyRootFind ||
          pc.abstractSyntax === SopClass.PatientRootFind
        )
          rec.proposals.push(pc.transferSyntaxes);
      if (script.reject)
        return {
          reject: { result: script.reject[0], source: script.reject[1], reason: script.reject[2] },
        };
      return {
        contexts: negotiateContexts(rq.contexts, (as) =>
          as === SopClass.Verification ||
          (script.acceptFind !== false &&
            (as === SopClass.StudyRootFind || as === SopClass.PatientRootFind))
            ? (script.syntaxes ?? UNCOMPRESSED_SYNTAXES)
            : undefined,
        ),
      };
    },
    established(assoc) {
      const cancelled = new Set<number>();
      assoc.on("releaseRequested", () => rec.releases++);
      assoc.handleRequests((msg) => {
        const cmd = msg.command;
        if (cmd.commandField === CommandField.CCancelRQ) {
          rec.cancels.push(cmd.messageIdBeingRespondedTo ?? -1);
          cancelled.add(cmd.messageIdBeingRespondedTo ?? -1);
          return;
        }
        if (cmd.commandField !== CommandField.CFindRQ) return;
        const identifier = parseDataset(msg.dataset ?? Buffer.alloc(0), msg.context.transferSyntax);
        rec.finds.push(identifier);
        const send = (status: number, ds?: Dataset, comment?: string) =>
          assoc.sendMessage(
            msg.pcid,
            {
              commandField: CommandField.CFindRSP,
              messageIdBeingRespondedTo: cmd.messageId,
              affectedSopClassUid: cmd.affectedSopClassUid,
              status,
              hasDataset: ds !== undefined,
              ...(comment ? { errorComment: comment } : {}),
            },
            ds ? encodeDataset(ds, msg.context.transferSyntax) : undefined,
          );
        const ctx: FindContext = {
          assoc,
          msg,
          identifier,
          pending: (ds, status = 0xff00) => send(status, ds),
          final: (status, comment) => send(status, undefined, comment),
          cancelled: () => cancelled.has(cmd.messageId ?? -1),
        };
        Promise.resolve(script.onFind?.(ctx)).catch(() => undefined);
      });
    },
  });
  rec.server = server;
  rec.port = server.port;
  rec.close = () => server.close(500);
  return rec;
}

/** A scripted SCP that answers every C-FIND with these studies, then Success. */
export function answeringWith(...uids: string[]): Promise<Recorder> {
  return scriptedScp({
    async onFind(c) {
      for (const uid of uids) await c.pending(study(uid));
      await c.final(0x0000);
    },
  });
}

/** A simple study-level match. */
export function study(uid: string, extra: Record<string, string> = {}): Dataset {
  const ds = new Dataset();
  ds.setString(Tags.QueryRetrieveLevel, "CS", "STUDY");
  ds.setString(Tags.StudyInstanceUID, "UI", uid);
  for (const [k, v] of Object.entries(extra)) {
    const tag =
      k === "PatientID"
        ? Tags.PatientID
        : k === "StudyDate"
          ? Tags.StudyDate
          : Tags.AccessionNumber;
    ds.setString(tag, k === "StudyDate" ? "DA" : "LO", v);
  }
  return ds;
}
