/**
 * One DICOM association over a TCP socket: PDU framing, the
 * association-level state, and DIMSE message assembly in both directions
 * with back-pressure. Used by both the requestor (SCU) and the acceptor
 * (SCP) sides.
 */
import { EventEmitter, once } from "node:events";
import type { Socket } from "node:net";
import type { Writable } from "node:stream";
import { decodeCommand, encodeCommand, type Command } from "./command.js";
import { NetError } from "./errors.js";
import {
  abortText,
  decodeAbort,
  encodeAbort,
  encodeReleaseRP,
  encodeReleaseRQ,
  pdataHeader,
  PduType,
  type AssociateAC,
  type AssociateRQ,
  type ContextResult,
  type ProposedContext,
  type RoleSelection,
} from "./pdu.js";
import type { Logger } from "./logger.js";
import { nullLogger } from "./logger.js";

export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

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

export interface PendingHandler {
  message(msg: Message): void;
  error(err: NetError): void;
}

/** Largest PDU we accept regardless of what was announced (protects memory). */
const HARD_PDU_LIMIT = 64 * 1024 * 1024;
/** PDV payload when the peer sets no limit. */
const UNLIMITED_PDV = 1024 * 1024;
/** Default cap on a message held in memory (a command set, a non-storage dataset). */
export const DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024;
/** ARTIM after our A-RELEASE-RP: how long the peer has to close the connection. */
const RELEASE_LINGER_MS = 2000;

/** PS3.8 PDU types we know; anything else means the peer does not speak DICOM. */
const KNOWN_PDU = new Set<number>(Object.values(PduType));

export class Association extends EventEmitter {
  readonly socket: Socket;
  readonly role: "requestor" | "acceptor";
  rq!: AssociateRQ;
  ac!: AssociateAC;
  /** Accepted presentation contexts by id. */
  readonly contexts = new Map<number, AcceptedContext>();
  /** Roles the acceptor agreed to, by SOP class. */
  readonly roles = new Map<string, RoleSelection>();
  /** Our own maximum receive PDU length (announced). */
  ownMaxPdu = 262144;
  /** The peer's maximum receive PDU length (0 = unlimited). */
  peerMaxPdu = 16384;
  log: Logger;
  /** Called for each complete incoming request (commands without the 0x8000 bit). */
  onRequest?: (msg: Message) => void;
  /** Gives a stream to receive the dataset of a request instead of collecting it in memory. */
  sinkFactory?: (command: Command, context: AcceptedContext) => Writable | undefined;
  /** Handler for association-establishment PDUs (set by connect/accept). */
  onAssociatePdu?: (type: number, body: Buffer) => void;
  /**
   * Largest message held in memory: a command set, or a dataset no sink
   * takes (C-ECHO, C-FIND identifiers and responses...). A peer exceeding
   * it gets an A-ABORT.
   */
  maxMessageBytes = DEFAULT_MAX_MESSAGE;

  private chunks: Buffer[] = [];
  private buffered = 0;
  private assembly?: Assembly;
  private readonly pending = new Map<number, PendingHandler>();
  private nextMessageId = 1;
  private sendChain: Promise<void> = Promise.resolve();
  /** `released`: we answered an A-RELEASE-RQ; nothing more may arrive. */
  private state: "establishing" | "established" | "releasing" | "released" | "closed" =
    "establishing";
  private releaseWaiter?: () => void;
  private pausedBy = new Set<object>();
  private failure?: NetError;
  private activityListeners = new Set<() => void>();
  /** Requests being served (see `busy`). */
  private serving = 0;
  /** When data last arrived, or serving a request or a paused read ended. */
  private lastActivity = Date.now();
  private idleWatch?: () => void;

  constructor(socket: Socket, role: "requestor" | "acceptor", log: Logger = nullLogger) {
    super();
    this.socket = socket;
    this.role = role;
    this.log = log;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (err) =>
      this.fail(
        new NetError(
          "closed",
          `Network error: ${err.message}`,
          `0006:0317 Peer aborted Association (or never connected)`,
        ),
      ),
    );
    socket.on("close", () => this.onClose());
  }

  get established(): boolean {
    return this.state === "established";
  }

  get closed(): boolean {
    return this.state === "closed";
  }

  /** The error that ended the association, if any. */
  get error(): NetError | undefined {
    return this.failure;
  }

  /** Record the accepted contexts and the agreed roles; the association is then established. */
  establish(
    proposed: readonly ProposedContext[],
    results: readonly ContextResult[],
    roles: readonly RoleSelection[],
  ): void {
    for (const r of results) {
      const pc = proposed.find((p) => p.id === r.id);
      if (pc && r.result === 0)
        this.contexts.set(r.id, {
          id: r.id,
          abstractSyntax: pc.abstractSyntax,
          transferSyntax: r.transferSyntax,
        });
    }
    for (const r of roles) this.roles.set(r.sopClass, r);
    this.state = "established";
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

  /** Find an accepted context for a SOP class, preferring the given transfer syntaxes in order. */
  contextFor(abstractSyntax: string, prefer: readonly string[] = []): AcceptedContext | undefined {
    let best: AcceptedContext | undefined;
    let bestRank = Infinity;
    for (const pc of this.contexts.values()) {
      if (pc.abstractSyntax !== abstractSyntax) continue;
      const r = prefer.indexOf(pc.transferSyntax);
      const rank = r < 0 ? prefer.length : r;
      if (rank < bestRank) {
        best = pc;
        bestRank = rank;
      }
    }
    return best;
  }

  /** Maximum dataset bytes per PDV when sending to the peer. */
  get maxPdvPayload(): number {
    // Even, so that fragments of even-length data stay even.
    return (this.peerMaxPdu > 12 ? this.peerMaxPdu - 12 : UNLIMITED_PDV) & ~1;
  }

  // ------------------------------------------------------------ receiving

  private onData(chunk: Buffer): void {
    if (this.state === "released") return this.refuseAfterRelease();
    this.lastActivity = Date.now();
    for (const l of this.activityListeners) l();
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 6 && this.state !== "closed") {
      const head = this.peek(6);
      const type = head[0]!;
      const len = head.readUInt32BE(2);
      if (!KNOWN_PDU.has(type)) {
        // An HTTP or SSH server, say: its first bytes are no PDU (DCMTK: "Unrecognized PDU type").
        const hex = type.toString(16).padStart(2, "0");
        const why = this.state === "establishing" ? " (the peer does not speak DICOM)" : "";
        this.protocolFailure(
          `Unrecognized PDU type 0x${hex}${why}`,
          `0006:0321 Unrecognized PDU type: ${hex}${why}`,
        );
        return;
      }
      const limit =
        type === PduType.PData ? Math.max(this.ownMaxPdu * 4, 1024 * 1024) : 1024 * 1024;
      if (len > Math.min(limit, HARD_PDU_LIMIT)) {
        this.protocolFailure(
          `PDU of ${len} bytes exceeds the negotiated maximum (${this.ownMaxPdu})`,
        );
        return;
      }
      if (this.buffered < 6 + len) break;
      const pdu = this.take(6 + len);
      try {
        this.onPdu(type, pdu.subarray(6));
      } catch (e) {
        this.protocolFailure((e as Error).message);
        return;
      }
    }
  }

  /** The first `n` buffered bytes (at least; `n` are buffered). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    return first.length >= n ? first : Buffer.concat(this.chunks, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let o = 0;
    while (o < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - o);
      c.copy(out, o, 0, k);
      o += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  /** ARTIM state (PS3.8 Sta13): the association is over and nothing more is served. */
  private refuseAfterRelease(): void {
    this.log.warn("Data received after the association was released: closing the connection");
    this.state = "closed";
    this.socket.destroy();
  }

  private onPdu(type: number, body: Buffer): void {
    if (this.state === "released") return this.refuseAfterRelease();
    switch (type) {
      case PduType.AssociateRQ:
      case PduType.AssociateAC:
      case PduType.AssociateRJ:
        if (this.state !== "establishing" || !this.onAssociatePdu)
          throw new Error(`unexpected association PDU (type ${type})`);
        this.onAssociatePdu(type, body);
        return;
      case PduType.PData:
        if (this.state !== "established" && this.state !== "releasing")
          throw new Error("P-DATA-TF before the association was established");
        this.onPData(body);
        return;
      case PduType.ReleaseRQ:
        this.log.debug("Received A-RELEASE-RQ");
        this.emit("releaseRequested");
        this.socket.write(encodeReleaseRP());
        if (this.role === "requestor") {
          // Release collision: we also asked; finish ours.
          this.state = "releasing";
          this.releaseWaiter?.();
          return;
        }
        // As DCMTK's acceptors: close once the response is out, and refuse
        // anything that still arrives (the peer closes too; ARTIM bounds the wait).
        this.state = "released";
        this.idleWatch?.();
        this.socket.end();
        setTimeout(() => this.socket.destroy(), RELEASE_LINGER_MS).unref();
        return;
      case PduType.ReleaseRP:
        this.log.debug("Received A-RELEASE-RP");
        this.releaseWaiter?.();
        return;
      case PduType.Abort: {
        const info = decodeAbort(body);
        const text = abortText(info);
        this.log.debug(`Received A-ABORT (${text})`);
        this.emit("aborted", info);
        if (this.onAssociatePdu && this.state === "establishing") {
          this.onAssociatePdu(type, body);
        }
        this.fail(
          new NetError(
            "aborted",
            `Peer aborted Association (${text})`,
            "0006:0317 Peer aborted Association (or never connected)",
          ),
        );
        this.socket.destroy();
        return;
      }
      default:
        throw new Error(`unknown PDU type 0x${type.toString(16)}`);
    }
  }

  private onPData(body: Buffer): void {
    let o = 0;
    if (body.length === 0) throw new Error("P-DATA-TF without a PDV item");
    while (o < body.length) {
      if (o + 6 > body.length)
        throw new Error(`PDV item of ${body.length - o} bytes, shorter than its 6-byte header`);
      const len = body.readUInt32BE(o);
      if (len < 2 || o + 4 + len > body.length) throw new Error("malformed PDV item");
      const pcid = body[o + 4]!;
      const mch = body[o + 5]!;
      const data = body.subarray(o + 6, o + 4 + len);
      o += 4 + len;
      this.onPdv(pcid, (mch & 1) === 1, (mch & 2) === 2, data);
    }
  }

  private onPdv(pcid: number, isCommand: boolean, isLast: boolean, data: Buffer): void {
    let a = this.assembly;
    if (!a) {
      if (!isCommand) throw new Error("dataset fragment without a preceding command");
      a = this.assembly = { pcid, commandChunks: [], dataLength: 0, held: 0 };
    }
    if (a.pcid !== pcid)
      throw new Error(`PDV for presentation context ${pcid} inside a message on context ${a.pcid}`);
    if (isCommand) {
      if (a.command) throw new Error("command fragment after the command was complete");
      this.hold(a, data.length, "command set");
      a.commandChunks.push(data);
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
        sink.on("drain", () => this.resume(sink));
        sink.on("error", () => this.resume(sink));
      } else a.dataChunks = [];
      return;
    }
    if (!a.command) throw new Error("dataset fragment before the command was complete");
    a.dataLength += data.length;
    if (a.sink) {
      if (!a.sink.destroyed && !a.sink.write(data)) this.pause(a.sink);
    } else {
      this.hold(a, data.length, "data set");
      a.dataChunks!.push(data);
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
    } else
      msg.dataset = a.dataChunks!.length === 1 ? a.dataChunks![0]! : Buffer.concat(a.dataChunks!);
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
    const pc = this.contexts.get(pcid);
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

  /** Stop reading from the socket until `resume(token)`; back-pressure for slow consumers. */
  pause(token: object): void {
    if (this.pausedBy.size === 0) this.socket.pause();
    this.pausedBy.add(token);
  }

  resume(token: object): void {
    if (!this.pausedBy.delete(token)) return;
    if (this.pausedBy.size === 0 && !this.socket.destroyed) this.socket.resume();
    this.lastActivity = Date.now();
    this.idleWatch?.();
  }

  /** A request starts (+1) or ends (-1) being served: the idle watch waits meanwhile. */
  busy(delta: 1 | -1): void {
    this.serving = Math.max(0, this.serving + delta);
    this.lastActivity = Date.now();
    this.idleWatch?.();
  }

  /**
   * The acceptor's DIMSE timeout: abort the association once `ms` pass
   * with nothing arriving while no request is being served (and reading
   * is not paused for a slow disk). Data arriving restarts the clock.
   */
  watchIdle(ms: number | undefined, onIdle?: () => void): void {
    if (ms === undefined || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    // One timer that re-arms itself for the time left (not one per received chunk).
    const check = () => {
      timer = undefined;
      if (
        this.state === "closed" ||
        this.state === "released" ||
        this.serving > 0 ||
        this.pausedBy.size > 0
      )
        return;
      const left = this.lastActivity + ms - Date.now();
      if (left > 0) {
        timer = setTimeout(check, left);
        timer.unref();
        return;
      }
      this.log.warn(`No DIMSE message for ${ms / 1000} s: aborting the association`);
      onIdle?.();
      this.fail(
        new NetError(
          "dimse-timeout",
          "DIMSE No data available (timeout in non-blocking mode)",
          "0006:0207 DIMSE No data available (timeout in non-blocking mode)",
        ),
      );
      this.abort();
    };
    this.idleWatch = () => {
      if (!timer) check();
    };
    this.once("closed", () => {
      clearTimeout(timer);
      this.idleWatch = undefined;
    });
    this.lastActivity = Date.now();
    check();
  }

  /** Register the handler for responses to a message ID. */
  expectResponses(messageId: number, handler: PendingHandler): void {
    this.pending.set(messageId, handler);
  }

  stopExpecting(messageId: number): void {
    this.pending.delete(messageId);
  }

  /**
   * DCMTK's DIMSE timeout: call `onTimeout` once `ms` pass without data
   * arriving. Returns the function that cancels it; without `ms`, nothing.
   */
  idleTimeout(ms: number | undefined, onTimeout: () => void): () => void {
    if (ms === undefined) return () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        cancel();
        onTimeout();
      }, ms);
    };
    const cancel = () => {
      clearTimeout(timer);
      this.activityListeners.delete(arm);
    };
    this.activityListeners.add(arm);
    arm();
    return cancel;
  }

  // ------------------------------------------------------------ sending

  /**
   * Send a DIMSE message. `data` is the dataset, either as one buffer or as
   * an async iterable of chunks (streamed with back-pressure). Messages are
   * serialised: fragments of two messages never interleave.
   */
  sendMessage(
    pcid: number,
    command: Command,
    data?: Buffer | AsyncIterable<Buffer>,
  ): Promise<void> {
    const run = async () => {
      if (this.failure) throw this.failure;
      if (this.state === "closed")
        throw new NetError(
          "closed",
          "Association closed",
          "0006:0317 Peer aborted Association (or never connected)",
        );
      const cmdBytes = encodeCommand({ ...command, hasDataset: data !== undefined });
      await this.writePdvs(pcid, true, cmdBytes, true);
      if (data === undefined) return;
      if (Buffer.isBuffer(data)) {
        await this.writePdvs(pcid, false, data, true);
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
        if (prev) await this.writePdvs(pcid, false, prev, false);
        prev = chunk;
      }
      if (carry) prev = prev ? Buffer.concat([prev, carry]) : carry;
      await this.writePdvs(pcid, false, prev ?? Buffer.alloc(0), true);
    };
    const p = this.sendChain.then(run);
    this.sendChain = p.catch(() => undefined);
    return p;
  }

  private async writePdvs(
    pcid: number,
    isCommand: boolean,
    bytes: Buffer,
    lastOfMessage: boolean,
  ): Promise<void> {
    const max = this.maxPdvPayload;
    const sock = this.socket;
    if (sock.destroyed)
      throw (
        this.failure ??
        new NetError(
          "closed",
          "Connection closed by peer",
          "0006:0317 Peer aborted Association (or never connected)",
        )
      );
    let ok = true;
    sock.cork();
    try {
      if (bytes.length === 0) {
        ok = sock.write(pdataHeader(pcid, isCommand, lastOfMessage, 0));
      }
      for (let o = 0; o < bytes.length; o += max) {
        const end = Math.min(bytes.length, o + max);
        const last = lastOfMessage && end === bytes.length;
        sock.write(pdataHeader(pcid, isCommand, last, end - o));
        ok = sock.write(bytes.subarray(o, end));
      }
    } finally {
      sock.uncork();
    }
    if (!ok && !sock.destroyed) await drainOrClose(sock);
    if (this.failure) throw this.failure;
  }

  // ------------------------------------------------------------ release, abort, close

  /** Graceful release (A-RELEASE-RQ/RP), bounded by a timeout; aborts on timeout. */
  async release(timeoutMs = 10000): Promise<void> {
    if (this.state === "closed") return;
    await this.sendChain;
    if (this.closed) return;
    this.state = "releasing";
    const done = new Promise<void>((resolve) => {
      this.releaseWaiter = resolve;
    });
    this.log.debug("Sending A-RELEASE-RQ");
    this.socket.write(encodeReleaseRQ());
    const closed = once(this.socket, "close").then(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const r = await Promise.race([done, closed, timeout]);
    clearTimeout(timer);
    if (r === "timeout") {
      this.abort();
      return;
    }
    this.state = "closed";
    this.socket.end();
    this.socket.destroySoon?.();
  }

  /** Send A-ABORT and close. */
  abort(source = 0, reason = 0): void {
    if (this.state === "released") this.socket.destroy();
    if (this.state === "closed" || this.state === "released" || this.socket.destroyed) {
      this.state = "closed";
      return;
    }
    this.log.debug("Sending A-ABORT");
    this.socket.end(encodeAbort(source, reason));
    this.state = "closed";
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  private protocolFailure(message: string, condition?: string): void {
    // A requestor's failure reaches the tool through the operation it ends
    // (printed there, once); an acceptor has nobody else to tell.
    if (this.role === "acceptor") this.log.error(`Protocol error: ${message}`);
    else this.log.debug(`Protocol error: ${message}`);
    this.fail(new NetError("protocol", `DICOM protocol error: ${message}`, condition));
    this.abort(2, 0);
  }

  /** Record a failure and notify everything still waiting. */
  fail(err: NetError): void {
    if (!this.failure) this.failure = err;
    const handlers = [...this.pending.values()];
    this.pending.clear();
    for (const h of handlers) h.error(err);
    const a = this.assembly;
    if (a?.sink && !a.sink.destroyed) a.sink.destroy(err);
    this.assembly = undefined;
    this.emit("failure", err);
  }

  private onClose(): void {
    const wasReleasing =
      this.state === "releasing" || this.state === "released" || this.state === "closed";
    const releaseDone = this.releaseWaiter !== undefined && this.state === "releasing";
    this.state = "closed";
    if (!wasReleasing && !this.failure) {
      this.fail(
        new NetError(
          "closed",
          "Peer closed the connection without releasing the association",
          "0006:0317 Peer aborted Association (or never connected)",
        ),
      );
    } else if (this.pending.size > 0 && !releaseDone) {
      this.fail(
        this.failure ??
          new NetError(
            "closed",
            "Association closed before the final response",
            "0006:0317 Peer aborted Association (or never connected)",
          ),
      );
    }
    this.emit("closed");
  }
}

/** Wait for 'drain' or 'close', removing both listeners afterwards (no leak over many waits). */
function drainOrClose(sock: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      sock.off("drain", done);
      sock.off("close", done);
      resolve();
    };
    sock.on("drain", done);
    sock.on("close", done);
  });
}
