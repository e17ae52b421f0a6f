/** A scripted C-MOVE SCP: answers every C-MOVE at once with Success and 0 sub-operations, and counts the requests and associations. */
import { SopClass, UNCOMPRESSED_SYNTAXES } from "@dicom-pipes/dimse/dicom";
import { CommandField, negotiateContexts, serve, type DicomServer } from "@dicom-pipes/dimse/net";

export interface MoveScp {
  server: DicomServer;
  port: number;
  moves: number;
  associations: number;
  close(): Promise<void>;
}

export async function scriptedMoveScp(): Promise<MoveScp> {
  const scp = { moves: 0, associations: 0 } as MoveScp;
  scp.server = await serve({
    port: 0,
    host: "127.0.0.1",
    decide: (rq) => ({
      contexts: negotiateContexts(rq.contexts, (as) =>
        as === SopClass.StudyRootMove || as === SopClass.PatientRootMove
          ? UNCOMPRESSED_SYNTAXES
          : undefined,
      ),
    }),
    established(assoc) {
      scp.associations++;
      assoc.handleRequests((msg) => {
        const cmd = msg.command;
        if (cmd.commandField !== CommandField.CMoveRQ) return;
        scp.moves++;
        void assoc
          .sendMessage(msg.pcid, {
            commandField: CommandField.CMoveRSP,
            messageIdBeingRespondedTo: cmd.messageId,
            affectedSopClassUid: cmd.affectedSopClassUid,
            status: 0,
            hasDataset: false,
            completed: 0,
            failed: 0,
            warning: 0,
            remaining: 0,
          })
          .catch(() => undefined);
      });
    },
  });
  scp.port = scp.server.port;
  scp.close = () => scp.server.close(500);
  return scp;
}
