/**
 * The DICOM upper layer (PS3.8 §9): the TCP connection, PDU framing and
 * the association state machine with its timers (the connect timeout
 * `-to`, ARTIM for `-ta` and after a release, the DIMSE idle watch). It
 * knows PDUs, not DIMSE messages: P-DATA-TF bodies go up to the message
 * layer, A-ASSOCIATE PDUs to the negotiation in progress.
 */
import { once, type EventEmitter } from "node:events";
import { connect as tcpConnect, type Socket } from "node:net";
import { ByteQueue } from "./byte-queue.js";
import { connectError, NetError } from "./errors.js";
import type { Logger } from "./logger.js";
import {
  abortText,
  decodeAbort,
  encodeAbort,
  encodeReleaseRP,
  encodeReleaseRQ,
  pdataHeader,
  PduType,
} from "./pdu.js";

/** Largest PDU we accept regardless of what was announced (protects memory). */
const HARD_PDU_LIMIT = 64 * 1024 * 1024;
/** ARTIM after our A-RELEASE-RP: how long the peer has to close the connection. */
const RELEASE_LINGER_MS = 2000;

/** PS3.8 PDU types we know; anything else means the peer does not speak DICOM. */
const KNOWN_PDU = new Set<number>(Object.values(PduType));

/** `released`: we answered an A-RELEASE-RQ; nothing more may arrive. */
export type UpperLayerState = "establishing" | "established" | "releasing" | "released" | "closed";

/** What the layer above (DIMSE messages) does with what arrives. */
export interface MessageService {
  /**
   * A P-DATA-TF body, as slices of the received chunks (not copied: a
   * slice keeps its chunk alive, so nothing may hold one past its use);
   * throwing makes it a protocol error (A-ABORT).
   */
  pdata(body: readonly Buffer[]): void;
  /** The association failed: everything still waiting learns why. */
  failed(err: NetError): void;
  /** Whether responses are still awaited. */
  awaitingResponses(): boolean;
}

/** Handler for A-ASSOCIATE-RQ/AC/RJ (and A-ABORT) while the association is being negotiated. */
export type AssociatePduHandler = (type: number, body: Buffer) => void;

export interface TransportOptions {
  host: string;
  port: number;
  bindAddress?: string;
  /** `-to`: how long the TCP connection may take. */
  connectTimeoutMs?: number;
}

/** Open the TCP connection for an association (requestor side). */
export function openTransport(o: TransportOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({
      host: o.host,
      port: o.port,
      localAddress: o.bindAddress,
      noDelay: true,
    });
    let timer: NodeJS.Timeout | undefined;
    if (o.connectTimeoutMs) {
      timer = setTimeout(() => {
        socket.destroy();
        reject(
          new NetError(
            "connect-timeout",
            "TCP Initialization Error: Connection timed out",
            "0006:031c TCP Initialization Error: Connection timed out",
          ),
        );
      }, o.connectTimeoutMs);
    }
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(connectError(err));
    });
  });
}

/**
 * One connection's upper layer. Emits on `events` (the association):
 * `releaseRequested`, `aborted` (AbortInfo), `failure` (NetError), `closed`.
 */
export class UpperLayer {
  private state: UpperLayerState = "establishing";
  private readonly received = new ByteQueue();
  private associateHandler?: AssociatePduHandler;
  private releaseWaiter?: () => void;
  private pausedBy = new Set<object>();
  private failure?: NetError;
  private activityListeners = new Set<() => void>();
  /** Requests being served (see `busy`). */
  private serving = 0;
  /** When data last arrived, or serving a request or a paused read ended. */
  private lastActivity = Date.now();
  private idleWatch?: () => void;

  constructor(
    readonly socket: Socket,
    readonly role: "requestor" | "acceptor",
    private readonly log: Logger,
    private readonly events: EventEmitter,
    private readonly upper: MessageService,
    /** Our announced receive limit (read at each PDU: it can change during negotiation). */
    private readonly ownMaxPdu: () => number,
  ) {
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

  /** Negotiation succeeded: P-DATA may flow. */
  markEstablished(): void {
    this.state = "established";
  }

  /** Route A-ASSOCIATE PDUs (and an A-ABORT while establishing) to `h`; undefined stops. */
  onAssociatePdu(h: AssociatePduHandler | undefined): void {
    this.associateHandler = h;
  }

  /**
   * ARTIM while the association is negotiated (`-ta`): `onExpire` runs
   * unless cancelled (the returned function) or the connection closes first.
   */
  artim(ms: number, onExpire: () => void): () => void {
    const timer = setTimeout(onExpire, ms);
    const cancel = () => {
      clearTimeout(timer);
      this.socket.off("close", cancel);
    };
    this.socket.once("close", cancel);
    return cancel;
  }

  // ------------------------------------------------------------ receiving

  private onData(chunk: Buffer): void {
    if (this.state === "released") return this.refuseAfterRelease();
    this.lastActivity = Date.now();
    for (const l of this.activityListeners) l();
    const q = this.received;
    q.push(chunk);
    while (q.length >= 6 && this.state !== "closed") {
      const head = q.peek(6);
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
      const own = this.ownMaxPdu();
      const limit = type === PduType.PData ? Math.max(own * 4, 1024 * 1024) : 1024 * 1024;
      if (len > Math.min(limit, HARD_PDU_LIMIT)) {
        this.protocolFailure(`PDU of ${len} bytes exceeds the negotiated maximum (${own})`);
        return;
      }
      if (q.length < 6 + len) break;
      q.skip(6);
      try {
        if (type === PduType.PData) this.onPData(q.takeParts(len));
        else this.onPdu(type, q.take(len));
      } catch (e) {
        this.protocolFailure((e as Error).message);
        return;
      }
    }
  }

  /** ARTIM state (PS3.8 Sta13): the association is over and nothing more is served. */
  private refuseAfterRelease(): void {
    this.log.warn("Data received after the association was released: closing the connection");
    this.state = "closed";
    this.socket.destroy();
  }

  /** A P-DATA-TF body, as slices of the received chunks (a value spanning chunks is not copied). */
  private onPData(body: Buffer[]): void {
    if (this.state === "released") return this.refuseAfterRelease();
    if (this.state !== "established" && this.state !== "releasing")
      throw new Error("P-DATA-TF before the association was established");
    this.upper.pdata(body);
  }

  private onPdu(type: number, body: Buffer): void {
    if (this.state === "released") return this.refuseAfterRelease();
    switch (type) {
      case PduType.AssociateRQ:
      case PduType.AssociateAC:
      case PduType.AssociateRJ:
        if (this.state !== "establishing" || !this.associateHandler)
          throw new Error(`unexpected association PDU (type ${type})`);
        this.associateHandler(type, body);
        return;
      case PduType.ReleaseRQ:
        this.log.debug("Received A-RELEASE-RQ");
        this.events.emit("releaseRequested");
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
        this.events.emit("aborted", info);
        if (this.associateHandler && this.state === "establishing") {
          this.associateHandler(type, body);
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
    this.events.once("closed", () => {
      clearTimeout(timer);
      this.idleWatch = undefined;
    });
    this.lastActivity = Date.now();
    check();
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

  /** Fails unless P-DATA can still be sent. */
  checkOpen(): void {
    if (this.failure) throw this.failure;
    if (this.state === "closed")
      throw new NetError(
        "closed",
        "Association closed",
        "0006:0317 Peer aborted Association (or never connected)",
      );
  }

  /** Send `bytes` as PDVs of at most `maxPdv` bytes each; waits when the socket is full. */
  async writePdvs(
    pcid: number,
    isCommand: boolean,
    bytes: Buffer,
    lastOfMessage: boolean,
    maxPdv: number,
  ): Promise<void> {
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
      for (let o = 0; o < bytes.length; o += maxPdv) {
        const end = Math.min(bytes.length, o + maxPdv);
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
  async release(timeoutMs: number): Promise<void> {
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
    this.upper.failed(err);
    this.events.emit("failure", err);
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
    } else if (this.upper.awaitingResponses() && !releaseDone) {
      this.fail(
        this.failure ??
          new NetError(
            "closed",
            "Association closed before the final response",
            "0006:0317 Peer aborted Association (or never connected)",
          ),
      );
    }
    this.events.emit("closed");
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
