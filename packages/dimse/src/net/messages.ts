/**
 * DIMSE messages over the upper layer (PS3.7 §6.3.1, PS3.8 Annex E):
 * P-DATA fragments assembled into command and dataset, a dataset
 * streamed to a sink with back-pressure or held in memory up to a cap,
 * routing (a response to the request with its message ID, a request to
 * the installed handler), and sending serialised so that fragments of
 * two messages never interleave.
 */
import type { Writable } from "node:stream";
import { ByteQueue, byteLength } from "./byte-queue.js";
import { type Command, decodeCommand, encodeCommand } from "./command.js";
import type { NetError } from "./errors.js";
import type { Logger } from "./logger.js";
import type { AcceptedContext, Negotiation } from "./negotiation.js";
import type { MessageService, UpperLayer } from "./upper-layer.js";

export interface Message {
  pcid: number;
  context: AcceptedContext;
  command: Command;
  /** Dataset bytes, when collected in memory. */
  dataset?: Buffer;
  /** The sink the dataset was streamed to, when a sink factory supplied one. */
  sink?: Writable;
  /** Bytes of dataset received. */
  datasetLength: number;
}

export interface PendingHandler {
  message(msg: Message): void;
  error(err: NetError): void;
}

/** Handles each complete incoming request (commands without the 0x8000 bit). */
export type RequestHandler = (msg: Message) => void;
/** Gives a stream to receive the dataset of a request instead of collecting it in memory. */
export type SinkFactory = (command: Command, context: AcceptedContext) => Writable | undefined;

/**
 * A sink that writes what it is given before returning (the storage file
 * sink, whose writes are synchronous): a PDV's slices go to it directly,
 * not through the stream's queue and callbacks. It keeps no slice past the
 * call but those it copies or lets go of itself; false when it failed (it
 * is then destroyed with the error).
 */
export interface SyncSink extends Writable {
  writeNow(parts: Buffer[]): boolean;
}

function isSyncSink(sink: Writable): sink is SyncSink {
  return typeof (sink as Partial<SyncSink>).writeNow === "function";
}

/**
 * Write a PDV value's slices to a sink in one go (a sink with `_writev`
 * gets them together); false when the sink asks to wait.
 */
function writeParts(sink: Writable, parts: Buffer[]): boolean {
  if (parts.length === 1) return sink.write(parts[0]);
  sink.cork();
  let ok = true;
  for (const p of parts) ok = sink.write(p);
  sink.uncork();
  return ok;
}

/** Default cap on a message held in memory (a command set, a non-storage dataset). */
export const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024;

interface Assembly {
  pcid: number;
  commandChunks: Buffer[];
  /** Bytes held in memory for this message (command and collected dataset). */
  held: number;
  command?: Command;
  dataChunks?: Buffer[];
  sink?: Writable;
  dataLength: number;
}

export class MessageLayer implements MessageService {
  private assembly?: Assembly;
  private readonly pending = new Map<number, PendingHandler>();
  private onRequest?: RequestHandler;
  private sinkFactory?: SinkFactory;
  private nextMessageId = 1;
  private sendChain: Promise<void> = Promise.resolve();

  constructor(
    private readonly dul: () => UpperLayer,
    private readonly negotiation: Negotiation,
    private readonly log: Logger,
    /**
     * Largest message held in memory: a command set, or a dataset no sink
     * takes (C-ECHO, C-FIND identifiers and responses...). A peer exceeding
     * it gets an A-ABORT.
     */
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE,
  ) {}

  /** Install the handler for incoming requests, and the sinks for their datasets. */
  handleRequests(onRequest: RequestHandler | undefined, sinkFactory?: SinkFactory): void {
    this.onRequest = onRequest;
    this.sinkFactory = sinkFactory;
  }

  /** Start message IDs at `base` (lets several associations of one tool use distinct IDs). */
  setMessageIdBase(base: number): void {
    this.nextMessageId = Math.max(1, Math.min(0xffff, base));
  }

  allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = this.nextMessageId >= 0xffff ? 1 : this.nextMessageId + 1;
    return id;
  }

  /** Register the handler for responses to a message ID. */
  expectResponses(messageId: number, handler: PendingHandler): void {
    this.pending.set(messageId, handler);
  }

  stopExpecting(messageId: number): void {
    this.pending.delete(messageId);
  }

  awaitingResponses(): boolean {
    return this.pending.size > 0;
  }

  /** Notify every awaited response and the sink being written of the failure. */
  failed(err: NetError): void {
    const handlers = [...this.pending.values()];
    this.pending.clear();
    for (const h of handlers) h.error(err);
    const a = this.assembly;
    if (a?.sink && !a.sink.destroyed) a.sink.destroy(err);
    this.assembly = undefined;
  }

  // ------------------------------------------------------------ receiving

  /** A P-DATA-TF body as slices of the received chunks: each PDV's value goes on as slices. */
  pdata(body: readonly Buffer[]): void {
    const q = new ByteQueue(body);
    if (q.length === 0) throw new Error("P-DATA-TF without a PDV item");
    while (q.length > 0) {
      if (q.length < 6)
        throw new Error(`PDV item of ${q.length} bytes, shorter than its 6-byte header`);
      const head = q.peek(6);
      const len = head.readUInt32BE(0);
      if (len < 2 || 4 + len > q.length) throw new Error("malformed PDV item");
      const pcid = head[4]!;
      const mch = head[5]!;
      q.skip(6);
      this.onPdv(pcid, (mch & 1) === 1, (mch & 2) === 2, q.takeParts(len - 2));
    }
  }

  private onPdv(pcid: number, isCommand: boolean, isLast: boolean, data: Buffer[]): void {
    let a = this.assembly;
    if (!a) {
      if (!isCommand) throw new Error("dataset fragment without a preceding command");
      a = this.assembly = { pcid, commandChunks: [], dataLength: 0, held: 0 };
    }
    if (a.pcid !== pcid)
      throw new Error(`PDV for presentation context ${pcid} inside a message on context ${a.pcid}`);
    if (isCommand) {
      if (a.command) throw new Error("command fragment after the command was complete");
      this.hold(a, byteLength(data), "command set");
      // One slice per socket chunk: pushed one by one (a spread has an argument limit).
      for (let i = 0; i < data.length; i++) a.commandChunks.push(data[i]!);
      if (!isLast) return;
      const cmd = decodeCommand(
        a.commandChunks.length === 1 ? a.commandChunks[0]! : Buffer.concat(a.commandChunks),
      );
      a.command = cmd;
      a.commandChunks = [];
      a.held = 0;
      if (this.log.enabled("debug"))
        this.log.debug(
          `Received DIMSE command 0x${cmd.commandField.toString(16).padStart(4, "0")} on context ${pcid}`,
        );
      if (!cmd.hasDataset) {
        this.assembly = undefined;
        this.dispatch({ pcid, context: this.contextOrThrow(pcid), command: cmd, datasetLength: 0 });
        return;
      }
      const isRequest = (cmd.commandField & 0x8000) === 0;
      const sink =
        isRequest && this.sinkFactory
          ? this.sinkFactory(cmd, this.contextOrThrow(pcid))
          : undefined;
      if (sink) {
        a.sink = sink;
        sink.on("drain", () => this.dul().resume(sink));
        sink.on("error", () => this.dul().resume(sink));
      } else a.dataChunks = [];
      return;
    }
    if (!a.command) throw new Error("dataset fragment before the command was complete");
    const n = byteLength(data);
    a.dataLength += n;
    if (a.sink) {
      // Once the sink failed, the rest of the data set is read and dropped.
      if (!a.sink.destroyed && data.length > 0) {
        if (isSyncSink(a.sink)) a.sink.writeNow(data);
        else if (!writeParts(a.sink, data)) this.dul().pause(a.sink);
      }
    } else {
      this.hold(a, n, "data set");
      for (let i = 0; i < data.length; i++) a.dataChunks!.push(data[i]!);
    }
    if (!isLast) return;
    this.assembly = undefined;
    const msg: Message = {
      pcid,
      context: this.contextOrThrow(pcid),
      command: a.command,
      datasetLength: a.dataLength,
    };
    if (a.sink) {
      msg.sink = a.sink;
      if (!a.sink.destroyed) a.sink.end();
    }
    // A copy of its own: the parts are slices of socket chunks (kept alive while referenced).
    else msg.dataset = Buffer.concat(a.dataChunks!);
    this.dispatch(msg);
  }

  /** Count bytes held in memory for a message; past the cap, the association is aborted. */
  private hold(a: Assembly, n: number, what: string): void {
    a.held += n;
    if (a.held > this.maxMessageBytes)
      throw new Error(
        `${what} of more than ${this.maxMessageBytes} bytes (the limit for a message held in memory)`,
      );
  }

  private contextOrThrow(pcid: number): AcceptedContext {
    const pc = this.negotiation.contexts.get(pcid);
    if (!pc) throw new Error(`message on presentation context ${pcid}, which was not accepted`);
    return pc;
  }

  private dispatch(msg: Message): void {
    const cmd = msg.command;
    if ((cmd.commandField & 0x8000) !== 0) {
      const id = cmd.messageIdBeingRespondedTo ?? -1;
      const handler = this.pending.get(id);
      if (!handler) {
        this.log.warn(`Ignoring response to unknown message ID ${id}`);
        return;
      }
      handler.message(msg);
      return;
    }
    if (this.onRequest) this.onRequest(msg);
    else this.log.warn(`Ignoring unexpected request (command 0x${cmd.commandField.toString(16)})`);
  }

  // ------------------------------------------------------------ sending

  /**
   * Send a DIMSE message. `data` is the dataset, either as one buffer or as
   * an async iterable of chunks (streamed with back-pressure). Messages are
   * serialised: fragments of two messages never interleave.
   */
  send(pcid: number, command: Command, data?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const run = async () => {
      const dul = this.dul();
      dul.checkOpen();
      const write = (isCommand: boolean, bytes: Buffer, last: boolean) =>
        dul.writePdvs(pcid, isCommand, bytes, last, this.negotiation.maxPdvPayload);
      const cmdBytes = encodeCommand({ ...command, hasDataset: data !== undefined });
      await write(true, cmdBytes, true);
      if (data === undefined) return;
      if (Buffer.isBuffer(data)) {
        await write(false, data, true);
        return;
      }
      // Fragments must have even lengths (DCMTK rejects odd ones): an odd
      // chunk keeps its last byte for the next one.
      let prev: Buffer | undefined;
      let carry: Buffer | undefined;
      for await (const raw of data) {
        let chunk = carry ? Buffer.concat([carry, raw]) : raw;
        carry = undefined;
        if (chunk.length % 2 === 1) {
          carry = chunk.subarray(chunk.length - 1);
          chunk = chunk.subarray(0, chunk.length - 1);
        }
        if (chunk.length === 0) continue;
        if (prev) await write(false, prev, false);
        prev = chunk;
      }
      if (carry) prev = prev ? Buffer.concat([prev, carry]) : carry;
      await write(false, prev ?? Buffer.alloc(0), true);
    };
    const p = this.sendChain.then(run);
    this.sendChain = p.catch(() => undefined);
    return p;
  }

  /** Resolves once every message queued so far was written (or failed). */
  sent(): Promise<void> {
    return this.sendChain;
  }
}
