/** The requestor side: opening associations and the SCU operations. */
import { Association, type AcceptedContext, type Message } from "./association.js";
import { CommandField, isPending, Priority, type Command } from "./command.js";
import { NetError } from "./errors.js";
import { nullLogger, type Logger } from "./logger.js";
import { openTransport } from "./upper-layer.js";
import {
  decodeAssociateAC,
  decodeAssociateRJ,
  encodeAssociateRQ,
  PduType,
  rejectReasonText,
  rejectResultText,
  rejectSourceText,
  type ProposedContext,
  type RoleSelection,
  type UserIdentity,
} from "./pdu.js";
import { SopClass } from "../dicom/uid.js";
import { type Dataset, encodeDataset } from "../dicom/dataset.js";

export interface ContextProposal {
  abstractSyntax: string;
  transferSyntaxes: string[];
  /** Propose SCP/SCU role selection for this SOP class (C-GET storage contexts). */
  role?: { scu: boolean; scp: boolean };
}

export interface ConnectOptions {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  contexts: ContextProposal[];
  /** Our maximum receive PDU length (default 262144; 0 = unlimited). */
  maxPdu?: number;
  bindAddress?: string;
  connectTimeoutMs?: number;
  acseTimeoutMs?: number;
  userIdentity?: UserIdentity;
  /** Largest message held in memory (responses' command sets and identifiers; default 4 MiB). */
  maxMessageBytes?: number;
  log?: Logger;
}

/** Open a TCP connection and negotiate an association. */
export async function connect(o: ConnectOptions): Promise<Association> {
  const log = o.log ?? nullLogger;
  if (o.contexts.length === 0) throw new Error("no presentation contexts to propose");
  if (o.contexts.length > 128)
    throw new Error(`too many presentation contexts (${o.contexts.length}, at most 128)`);
  const socket = await openTransport(o);
  const assoc = new Association(socket, "requestor", log, {
    maxPdu: o.maxPdu,
    maxMessageBytes: o.maxMessageBytes,
  });
  const proposed: ProposedContext[] = o.contexts.map((c, i) => ({
    id: 2 * i + 1,
    abstractSyntax: c.abstractSyntax,
    transferSyntaxes: c.transferSyntaxes,
  }));
  const roles: RoleSelection[] = [];
  const seenRole = new Set<string>();
  for (const c of o.contexts) {
    if (c.role && !seenRole.has(c.abstractSyntax)) {
      seenRole.add(c.abstractSyntax);
      roles.push({ sopClass: c.abstractSyntax, scu: c.role.scu, scp: c.role.scp });
    }
  }
  const rq = assoc.propose({
    calledAet: o.calledAet,
    callingAet: o.callingAet,
    contexts: proposed,
    roles,
    userIdentity: o.userIdentity,
  });
  log.info("Requesting Association");
  const outcome = new Promise<void>((resolve, reject) => {
    const cancelArtim = assoc.artim(o.acseTimeoutMs ?? 30000, () => {
      reject(
        new NetError(
          "acse-timeout",
          "DUL network read timeout",
          "0006:031a DUL network read timeout",
        ),
      );
      assoc.abort();
    });
    const done = (err?: NetError) => {
      cancelArtim();
      assoc.off("failure", onFailure);
      assoc.onAssociatePdu(undefined);
      if (err) reject(err);
      else resolve();
    };
    const onFailure = (err: NetError) => done(err);
    assoc.on("failure", onFailure);
    assoc.onAssociatePdu((type, body) => {
      if (type === PduType.AssociateAC) {
        assoc.accepted(decodeAssociateAC(body));
        done();
      } else if (type === PduType.AssociateRJ) {
        const rj = decodeAssociateRJ(body);
        const details = [
          `Result: ${rejectResultText(rj.result)}, Source: ${rejectSourceText(rj.source)}`,
          `Reason: ${rejectReasonText(rj.source, rj.reason)}`,
        ];
        socket.destroy();
        const err = new NetError(
          "rejected",
          `Association Rejected: ${rejectReasonText(rj.source, rj.reason)}`,
          "Association Rejected:",
          details,
        );
        err.rejectResult = rj.result;
        done(err);
      } else if (type === PduType.Abort) {
        done(
          new NetError(
            "aborted",
            "Peer aborted Association (or never connected)",
            "0006:0317 Peer aborted Association (or never connected)",
          ),
        );
      }
    });
  });
  socket.write(encodeAssociateRQ(rq));
  await outcome;
  log.info(`Association Accepted (Max Send PDV: ${assoc.maxPdvPayload})`);
  if (assoc.contexts.size === 0) {
    await assoc.release().catch(() => undefined);
    throw new NetError(
      "no-context",
      "No Acceptable Presentation Contexts",
      "No Acceptable Presentation Contexts",
    );
  }
  return assoc;
}

// ---------------------------------------------------------------- operations

export interface Response {
  command: Command;
  status: number;
  pending: boolean;
  context: AcceptedContext;
  /** Raw identifier bytes in the context's transfer syntax. */
  identifierBytes?: Buffer;
}

export class NoContextError extends NetError {
  constructor(sopClassName: string) {
    super(
      "no-context",
      `No presentation context accepted for ${sopClassName}`,
      "No Acceptable Presentation Contexts",
    );
  }
}

/** Wait for the next message for a message ID, honouring a DIMSE timeout. */
class ResponseQueue {
  private queue: Message[] = [];
  private error?: NetError;
  private wake?: () => void;
  private readonly token = {};
  constructor(
    private readonly assoc: Association,
    readonly messageId: number,
    private readonly highWater = 256,
  ) {
    assoc.expectResponses(messageId, {
      message: (m) => {
        this.queue.push(m);
        if (this.queue.length >= this.highWater) assoc.pause(this.token);
        this.wake?.();
      },
      error: (e) => {
        this.error = e;
        this.wake?.();
      },
    });
  }

  /** Every message queued, once there is one: a consumer that keeps up takes them a batch per wake-up. */
  async nextAll(timeoutMs?: number): Promise<Message[]> {
    for (;;) {
      if (this.queue.length > 0) {
        const all = this.queue;
        this.queue = [];
        this.assoc.resume(this.token);
        return all;
      }
      if (this.error) throw this.error;
      await this.waitForWake(timeoutMs);
    }
  }

  async next(timeoutMs?: number): Promise<Message> {
    for (;;) {
      const m = this.queue.shift();
      if (m) {
        if (this.queue.length < this.highWater / 2) this.assoc.resume(this.token);
        return m;
      }
      if (this.error) throw this.error;
      await this.waitForWake(timeoutMs);
    }
  }

  private waitForWake(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const cancel = this.assoc.idleTimeout(timeoutMs, () => {
        this.wake = undefined;
        reject(
          new NetError(
            "dimse-timeout",
            "DIMSE No data available (timeout in non-blocking mode)",
            "0006:0207 DIMSE No data available (timeout in non-blocking mode)",
          ),
        );
      });
      this.wake = () => {
        cancel();
        this.wake = undefined;
        resolve();
      };
    });
  }

  close(): void {
    this.assoc.stopExpecting(this.messageId);
    this.assoc.resume(this.token);
  }
}

function toResponse(m: Message): Response {
  const status = m.command.status ?? 0xffff;
  return {
    command: m.command,
    status,
    pending: isPending(status),
    context: m.context,
    identifierBytes: m.dataset,
  };
}

export interface OperationOptions {
  dimseTimeoutMs?: number;
  priority?: number;
}

/** C-ECHO; resolves with the response status. */
export async function echo(assoc: Association, o: OperationOptions = {}): Promise<number> {
  const pc = assoc.contextFor(SopClass.Verification);
  if (!pc) throw new NoContextError("Verification SOP Class");
  const id = assoc.allocateMessageId();
  const q = new ResponseQueue(assoc, id);
  try {
    await assoc.sendMessage(pc.id, {
      commandField: CommandField.CEchoRQ,
      messageId: id,
      affectedSopClassUid: SopClass.Verification,
      hasDataset: false,
    });
    const m = await q.next(o.dimseTimeoutMs);
    return m.command.status ?? 0xffff;
  } finally {
    q.close();
  }
}

export interface FindOptions extends OperationOptions {
  /** Called right after the request was sent (for logging). */
  onSent?: (messageId: number, context: AcceptedContext) => void;
  /** How long to wait for the final response after a C-CANCEL (default 5 s). */
  cancelTimeoutMs?: number;
  /** Called right before a C-CANCEL is sent (the consumer stopped early; for logging). */
  onCancel?: (messageId: number, context: AcceptedContext) => void;
}

/**
 * C-FIND as an async iterable of every response, pending ones (0xFF00 and
 * 0xFF01) and the final one. Stopping the iteration early sends C-CANCEL
 * and drains the responses up to the final one.
 */
export function find(
  assoc: Association,
  sopClass: string,
  identifier: Dataset,
  o: FindOptions = {},
): AsyncGenerator<Response> {
  return request(assoc, CommandField.CFindRQ, sopClass, identifier, o);
}

/**
 * C-FIND as `find`, the responses in batches: those that arrived since the
 * last batch, in order, the final one last. A consumer that handles a
 * batch in one synchronous loop takes one promise per batch instead of
 * one per response. Stopping early sends C-CANCEL unless the final
 * response was in a batch already given.
 */
export function findBatches(
  assoc: Association,
  sopClass: string,
  identifier: Dataset,
  o: FindOptions = {},
): AsyncGenerator<Response[]> {
  return requestBatches(assoc, CommandField.CFindRQ, sopClass, identifier, o);
}

export interface RetrieveOptions extends FindOptions {
  /** C-MOVE destination AE title. */
  destination?: string;
}

/**
 * C-MOVE (with a destination) or C-GET as an async iterable of responses:
 * pending ones carry the sub-operation counts, the last one is final. For
 * C-GET the sub-operation C-STOREs arrive on the same association: install
 * a store handler with `attachScp` first. Stopping early sends C-CANCEL.
 */
export function retrieve(
  assoc: Association,
  kind: "move" | "get",
  sopClass: string,
  identifier: Dataset,
  o: RetrieveOptions = {},
): AsyncGenerator<Response> {
  if (kind === "move" && !o.destination) throw new Error("C-MOVE needs a destination AE title");
  return request(
    assoc,
    kind === "move" ? CommandField.CMoveRQ : CommandField.CGetRQ,
    sopClass,
    identifier,
    o,
    kind === "move" ? { moveDestination: o.destination } : {},
  );
}

/** The responses of `requestBatches`, one at a time. */
async function* request(...args: Parameters<typeof requestBatches>): AsyncGenerator<Response> {
  for await (const batch of requestBatches(...args)) yield* batch;
}

async function* requestBatches(
  assoc: Association,
  field: number,
  sopClass: string,
  identifier: Dataset,
  o: FindOptions,
  extra: Partial<Command> = {},
): AsyncGenerator<Response[]> {
  const pc = assoc.contextFor(sopClass);
  if (!pc) throw new NoContextError(sopClass);
  const id = assoc.allocateMessageId();
  const q = new ResponseQueue(assoc, id);
  let final = false;
  let failed = false;
  try {
    const bytes = encodeDataset(identifier, pc.transferSyntax);
    await assoc.sendMessage(
      pc.id,
      {
        commandField: field,
        messageId: id,
        affectedSopClassUid: sopClass,
        priority: o.priority ?? Priority.Medium,
        hasDataset: true,
        ...extra,
      },
      bytes,
    );
    o.onSent?.(id, pc);
    for (;;) {
      let messages: Message[];
      try {
        messages = await q.nextAll(o.dimseTimeoutMs);
      } catch (e) {
        failed = true;
        throw e;
      }
      const batch: Response[] = [];
      for (let i = 0; i < messages.length; i++) {
        const r = toResponse(messages[i]!);
        batch.push(r);
        if (!r.pending) {
          final = true;
          break;
        }
      }
      yield batch;
      if (final) return;
    }
  } finally {
    if (!final && !failed && assoc.established && !assoc.error) {
      // The consumer stopped early: cancel and drain to the final response.
      try {
        o.onCancel?.(id, pc);
        await assoc.sendMessage(pc.id, {
          commandField: CommandField.CCancelRQ,
          messageIdBeingRespondedTo: id,
          hasDataset: false,
        });
        for (;;) {
          const m = await q.next(o.cancelTimeoutMs ?? 5000);
          if (!isPending(m.command.status ?? 0)) break;
        }
      } catch {
        // Peer ignored the cancel; the caller releases or aborts.
      }
    }
    q.close();
  }
}
