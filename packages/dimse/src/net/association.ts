/**
 * One DICOM association over a TCP socket, for the requestor (SCU) and
 * the acceptor (SCP) sides alike. It puts together three layers, as
 * DCMTK's assoc/dimse and pynetdicom's dul/acse/dimse do:
 *
 * - `UpperLayer` (upper-layer.ts): PDU framing, the state machine and its timers;
 * - `Negotiation` (negotiation.ts): contexts, maximum PDU lengths, roles, implementation UID;
 * - `MessageLayer` (messages.ts): DIMSE message assembly, routing and sending.
 *
 * `connect` (client.ts) and `serve` (server.ts) negotiate through the
 * methods below; the operations (client.ts, scp.ts, storage.ts) send and
 * receive messages.
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { Command } from "./command.js";
import type { NetError } from "./errors.js";
import type { Logger } from "./logger.js";
import { nullLogger } from "./logger.js";
import {
  DEFAULT_MAX_MESSAGE,
  MessageLayer,
  type PendingHandler,
  type RequestHandler,
  type SinkFactory,
} from "./messages.js";
import { type AcceptedContext, Negotiation, type Proposal } from "./negotiation.js";
import type { AssociateAC, AssociateRQ, ContextResult, RoleSelection } from "./pdu.js";
import { type AssociatePduHandler, UpperLayer } from "./upper-layer.js";

export { DEFAULT_MAX_MESSAGE } from "./messages.js";
export type { Message, PendingHandler, RequestHandler, SinkFactory } from "./messages.js";
export type { AcceptedContext } from "./negotiation.js";

export interface AssociationLimits {
  /** Our maximum receive PDU length (announced; default 262144, 0 = unlimited). */
  maxPdu?: number;
  /** Largest message held in memory (command sets, datasets no sink takes; default 4 MiB). */
  maxMessageBytes?: number;
}

export class Association extends EventEmitter {
  readonly log: Logger;
  private readonly negotiation: Negotiation;
  private readonly messages: MessageLayer;
  private readonly dul: UpperLayer;

  constructor(
    socket: Socket,
    role: "requestor" | "acceptor",
    log: Logger = nullLogger,
    limits: AssociationLimits = {},
  ) {
    super();
    this.log = log;
    this.negotiation = new Negotiation(limits.maxPdu);
    this.messages = new MessageLayer(
      () => this.dul,
      this.negotiation,
      log,
      limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
    );
    this.dul = new UpperLayer(
      socket,
      role,
      log,
      this,
      this.messages,
      () => this.negotiation.ownMaxPdu,
    );
  }

  get socket(): Socket {
    return this.dul.socket;
  }

  get role(): "requestor" | "acceptor" {
    return this.dul.role;
  }

  get established(): boolean {
    return this.dul.established;
  }

  get closed(): boolean {
    return this.dul.closed;
  }

  /** The error that ended the association, if any. */
  get error(): NetError | undefined {
    return this.dul.error;
  }

  // ------------------------------------------------------------ negotiation

  /** The A-ASSOCIATE-RQ (sent, or received). */
  get rq(): AssociateRQ {
    return this.negotiation.rq!;
  }

  /** The A-ASSOCIATE-AC (received, or sent). */
  get ac(): AssociateAC {
    return this.negotiation.ac!;
  }

  /** Accepted presentation contexts by id. */
  get contexts(): ReadonlyMap<number, AcceptedContext> {
    return this.negotiation.contexts;
  }

  /** Roles the acceptor agreed to, by SOP class. */
  get roles(): ReadonlyMap<string, RoleSelection> {
    return this.negotiation.roles;
  }

  /** Our maximum receive PDU length (announced). */
  get ownMaxPdu(): number {
    return this.negotiation.ownMaxPdu;
  }

  /** The peer's maximum receive PDU length (0 = unlimited). */
  get peerMaxPdu(): number {
    return this.negotiation.peerMaxPdu;
  }

  /** Maximum dataset bytes per PDV when sending to the peer. */
  get maxPdvPayload(): number {
    return this.negotiation.maxPdvPayload;
  }

  /** Find an accepted context for a SOP class, preferring the given transfer syntaxes in order. */
  contextFor(abstractSyntax: string, prefer: readonly string[] = []): AcceptedContext | undefined {
    return this.negotiation.contextFor(abstractSyntax, prefer);
  }

  /** Route A-ASSOCIATE PDUs (and an A-ABORT while establishing) to `h` until undefined. */
  onAssociatePdu(h: AssociatePduHandler | undefined): void {
    this.dul.onAssociatePdu(h);
  }

  /** ARTIM while negotiating (`-ta`): `onExpire` unless cancelled or the connection closes. */
  artim(ms: number, onExpire: () => void): () => void {
    return this.dul.artim(ms, onExpire);
  }

  /** Requestor: the A-ASSOCIATE-RQ to send. */
  propose(p: Proposal): AssociateRQ {
    return this.negotiation.propose(p);
  }

  /** Requestor: the peer accepted; the association is established. */
  accepted(ac: AssociateAC): void {
    this.negotiation.accepted(ac);
    this.dul.markEstablished();
  }

  /** Acceptor: the peer's A-ASSOCIATE-RQ arrived. */
  requested(rq: AssociateRQ): void {
    this.negotiation.requested(rq);
  }

  /** Acceptor: accept with these results; the association is established. Returns the A-ASSOCIATE-AC to send. */
  accept(contexts: ContextResult[], roles: RoleSelection[], maxPdu?: number): AssociateAC {
    const ac = this.negotiation.accept(contexts, roles, maxPdu);
    this.dul.markEstablished();
    return ac;
  }

  // ------------------------------------------------------------ messages

  /** Install the handler for incoming requests, and the sinks for their datasets. */
  handleRequests(onRequest: RequestHandler | undefined, sinkFactory?: SinkFactory): void {
    this.messages.handleRequests(onRequest, sinkFactory);
  }

  /** Start message IDs at `base` (lets several associations of one tool use distinct IDs). */
  setMessageIdBase(base: number): void {
    this.messages.setMessageIdBase(base);
  }

  allocateMessageId(): number {
    return this.messages.allocateMessageId();
  }

  /** Register the handler for responses to a message ID. */
  expectResponses(messageId: number, handler: PendingHandler): void {
    this.messages.expectResponses(messageId, handler);
  }

  stopExpecting(messageId: number): void {
    this.messages.stopExpecting(messageId);
  }

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
    return this.messages.send(pcid, command, data);
  }

  // ------------------------------------------------------------ flow and timers

  /** Stop reading from the socket until `resume(token)`; back-pressure for slow consumers. */
  pause(token: object): void {
    this.dul.pause(token);
  }

  resume(token: object): void {
    this.dul.resume(token);
  }

  /** A request starts (+1) or ends (-1) being served: the idle watch waits meanwhile. */
  busy(delta: 1 | -1): void {
    this.dul.busy(delta);
  }

  /** The acceptor's DIMSE timeout (see `UpperLayer.watchIdle`). */
  watchIdle(ms: number | undefined, onIdle?: () => void): void {
    this.dul.watchIdle(ms, onIdle);
  }

  /** DCMTK's DIMSE timeout: `onTimeout` once `ms` pass without data arriving; returns the cancel. */
  idleTimeout(ms: number | undefined, onTimeout: () => void): () => void {
    return this.dul.idleTimeout(ms, onTimeout);
  }

  // ------------------------------------------------------------ release, abort

  /** Graceful release (A-RELEASE-RQ/RP) once queued messages are out, bounded by a timeout; aborts on timeout. */
  async release(timeoutMs = 10000): Promise<void> {
    if (this.closed) return;
    await this.messages.sent();
    if (this.closed) return;
    await this.dul.release(timeoutMs);
  }

  /** Send A-ABORT and close. */
  abort(source = 0, reason = 0): void {
    this.dul.abort(source, reason);
  }
}
