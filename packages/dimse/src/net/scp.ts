/** Service-class-provider plumbing: dispatching requests on an association to handlers. */
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { AcceptedContext, Association, Message } from "./association.js";
import { CommandField, type Command } from "./command.js";
import { Dataset, encodeDataset, parseDataset } from "../dicom/dataset.js";
import { nullLogger, type Logger } from "./logger.js";

/** Throw from a handler to answer with a specific failure status. */
export class DimseFailure extends Error {
  constructor(
    readonly status: number,
    readonly comment?: string,
  ) {
    super(comment ?? `status 0x${status.toString(16)}`);
    this.name = "DimseFailure";
  }
}

export interface FindRequest {
  assoc: Association;
  context: AcceptedContext;
  command: Command;
  identifier: Dataset;
  /** Aborted when the requestor sends C-CANCEL or the association ends. */
  signal: AbortSignal;
}

export interface StoreRequest {
  assoc: Association;
  context: AcceptedContext;
  command: Command;
  /** The sink returned by `open`, already ended (or destroyed on failure). */
  sink: Writable;
  datasetLength: number;
  /** Set when receiving or writing the dataset failed. */
  error?: Error;
}

export interface StoreResult {
  status: number;
  comment?: string;
}

export interface MoveGetRequest {
  assoc: Association;
  context: AcceptedContext;
  command: Command;
  identifier: Dataset;
  signal: AbortSignal;
  /** Send a pending response with sub-operation counts. */
  progress(counts: SubOperationCounts): Promise<void>;
}

export interface SubOperationCounts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
}

export interface MoveGetResult extends SubOperationCounts {
  status: number;
  comment?: string;
  /** Identifier of failed SOP Instance UIDs (Failed SOP Instance UID List), if any. */
  failedInstances?: string[];
}

export interface ScpHandlers {
  /** Answer C-ECHO (default true). */
  echo?: boolean;
  find?(req: FindRequest): AsyncIterable<Dataset>;
  store?: {
    /** Where to stream an incoming dataset. */
    open(command: Command, context: AcceptedContext, assoc: Association): Writable;
    /** Decide the status once the dataset has been received and the sink finished. */
    finish(req: StoreRequest): Promise<StoreResult>;
    /** Called after the C-STORE response was sent. */
    responded?(req: StoreRequest, result: StoreResult): void;
  };
  move?(req: MoveGetRequest): Promise<MoveGetResult>;
  get?(req: MoveGetRequest): Promise<MoveGetResult>;
}

/** Wire handlers to an established association. */
export function attachScp(assoc: Association, h: ScpHandlers, log: Logger = nullLogger): void {
  const running = new Map<number, AbortController>();
  assoc.on("failure", () => {
    for (const c of running.values()) c.abort();
  });
  const store = h.store;
  const sinks = store
    ? (cmd: Command, ctx: AcceptedContext) =>
        cmd.commandField === CommandField.CStoreRQ ? store.open(cmd, ctx, assoc) : undefined
    : undefined;
  assoc.handleRequests((msg: Message) => {
    if (msg.command.commandField === CommandField.CCancelRQ) return handle(msg);
    // The idle watch (DIMSE timeout) waits while a request is being served.
    assoc.busy(1);
    void Promise.resolve(handle(msg)).finally(() => assoc.busy(-1));
  }, sinks);
  const handle = (msg: Message): Promise<void> | void => {
    const cmd = msg.command;
    switch (cmd.commandField) {
      case CommandField.CEchoRQ:
        return respond(assoc, msg, CommandField.CEchoRSP, h.echo === false ? 0x0211 : 0x0000);
      case CommandField.CCancelRQ: {
        const c = running.get(cmd.messageIdBeingRespondedTo ?? -1);
        log.debug(`Received C-CANCEL-RQ for message ${cmd.messageIdBeingRespondedTo}`);
        c?.abort();
        return;
      }
      case CommandField.CFindRQ:
        if (!h.find) return respond(assoc, msg, CommandField.CFindRSP, 0x0211);
        return runFind(assoc, msg, h.find.bind(h), running, log);
      case CommandField.CStoreRQ:
        if (!h.store) return respond(assoc, msg, CommandField.CStoreRSP, 0x0211);
        return runStore(assoc, msg, h.store, log);
      case CommandField.CMoveRQ:
        if (!h.move) return respond(assoc, msg, CommandField.CMoveRSP, 0x0211);
        return runMoveGet(assoc, msg, h.move.bind(h), CommandField.CMoveRSP, running, log);
      case CommandField.CGetRQ:
        if (!h.get) return respond(assoc, msg, CommandField.CGetRSP, 0x0211);
        return runMoveGet(assoc, msg, h.get.bind(h), CommandField.CGetRSP, running, log);
      default:
        log.warn(`Unsupported DIMSE command 0x${cmd.commandField.toString(16)}`);
        return respond(assoc, msg, cmd.commandField | 0x8000, 0x0211);
    }
  };
}

function respond(
  assoc: Association,
  msg: Message,
  field: number,
  status: number,
  extra: Partial<Command> = {},
  data?: Buffer,
): Promise<void> {
  const cmd = msg.command;
  return assoc
    .sendMessage(
      msg.pcid,
      {
        commandField: field,
        messageIdBeingRespondedTo: cmd.messageId,
        affectedSopClassUid: cmd.affectedSopClassUid,
        ...(field === CommandField.CStoreRSP
          ? { affectedSopInstanceUid: cmd.affectedSopInstanceUid }
          : {}),
        status,
        hasDataset: data !== undefined,
        ...extra,
      },
      data,
    )
    .catch(() => undefined);
}

/** Error Comment (0000,0902), at most 64 characters. */
function comment(text: string | undefined): Partial<Command> {
  return text ? { errorComment: text.slice(0, 64) } : {};
}

/** Answer a request whose handler threw: with its DimseFailure status, else 0xC000. */
function respondFailure(
  assoc: Association,
  msg: Message,
  field: number,
  e: unknown,
  log: Logger,
  what: string,
): Promise<void> {
  const f = e instanceof DimseFailure ? e : new DimseFailure(0xc000, (e as Error).message);
  log.warn(`${what} failed: ${f.message}`);
  return respond(assoc, msg, field, f.status, comment(f.comment));
}

function identifierOf(msg: Message): Dataset {
  return msg.dataset ? parseDataset(msg.dataset, msg.context.transferSyntax) : new Dataset();
}

async function runFind(
  assoc: Association,
  msg: Message,
  find: NonNullable<ScpHandlers["find"]>,
  running: Map<number, AbortController>,
  log: Logger,
): Promise<void> {
  const id = msg.command.messageId ?? 0;
  const ctrl = new AbortController();
  running.set(id, ctrl);
  try {
    let identifier: Dataset;
    try {
      identifier = identifierOf(msg);
    } catch (e) {
      await respond(
        assoc,
        msg,
        CommandField.CFindRSP,
        0xc000,
        comment(`Cannot parse identifier: ${(e as Error).message}`),
      );
      return;
    }
    for await (const ds of find({
      assoc,
      context: msg.context,
      command: msg.command,
      identifier,
      signal: ctrl.signal,
    })) {
      if (ctrl.signal.aborted) break;
      await respond(
        assoc,
        msg,
        CommandField.CFindRSP,
        0xff00,
        {},
        encodeDataset(ds, msg.context.transferSyntax),
      );
    }
    if (assoc.closed || assoc.error) return;
    await respond(assoc, msg, CommandField.CFindRSP, ctrl.signal.aborted ? 0xfe00 : 0x0000);
  } catch (e) {
    await respondFailure(assoc, msg, CommandField.CFindRSP, e, log, "C-FIND");
  } finally {
    running.delete(id);
  }
}

async function runStore(
  assoc: Association,
  msg: Message,
  store: NonNullable<ScpHandlers["store"]>,
  log: Logger,
): Promise<void> {
  const sink = msg.sink!;
  let error: Error | undefined;
  try {
    await finished(sink);
  } catch (e) {
    error = e as Error;
  }
  let result: StoreResult;
  try {
    result = await store.finish({
      assoc,
      context: msg.context,
      command: msg.command,
      sink,
      datasetLength: msg.datasetLength,
      error,
    });
  } catch (e) {
    log.error(`Storing failed: ${(e as Error).message}`);
    result = { status: 0xa700, comment: (e as Error).message };
  }
  await respond(assoc, msg, CommandField.CStoreRSP, result.status, comment(result.comment));
  store.responded?.(
    {
      assoc,
      context: msg.context,
      command: msg.command,
      sink,
      datasetLength: msg.datasetLength,
      error,
    },
    result,
  );
}

async function runMoveGet(
  assoc: Association,
  msg: Message,
  handler: (req: MoveGetRequest) => Promise<MoveGetResult>,
  field: number,
  running: Map<number, AbortController>,
  log: Logger,
): Promise<void> {
  const id = msg.command.messageId ?? 0;
  const ctrl = new AbortController();
  running.set(id, ctrl);
  const counts = (c: SubOperationCounts) => ({
    remaining: c.remaining,
    completed: c.completed,
    failed: c.failed,
    warning: c.warning,
  });
  try {
    const identifier = identifierOf(msg);
    const result = await handler({
      assoc,
      context: msg.context,
      command: msg.command,
      identifier,
      signal: ctrl.signal,
      progress: (c) => respond(assoc, msg, field, 0xff00, counts(c)),
    });
    let data: Buffer | undefined;
    if (result.failedInstances?.length) {
      const ds = new Dataset();
      ds.setString(0x00080058, "UI", result.failedInstances);
      data = encodeDataset(ds, msg.context.transferSyntax);
    }
    const { remaining: _r, ...final } = counts(result);
    await respond(
      assoc,
      msg,
      field,
      ctrl.signal.aborted && result.status === 0 ? 0xfe00 : result.status,
      { ...final, ...comment(result.comment) },
      data,
    );
  } catch (e) {
    await respondFailure(assoc, msg, field, e, log, "Retrieve");
  } finally {
    running.delete(id);
  }
}
