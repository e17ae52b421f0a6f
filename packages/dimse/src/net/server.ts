/** The acceptor side: listening, association negotiation, and service dispatch. */
import { createServer, type Server, type Socket } from "node:net";
import { once } from "node:events";
import { Association } from "./association.js";
import { nullLogger, type Logger } from "./logger.js";
import {
  APPLICATION_CONTEXT,
  decodeAssociateRQ,
  encodeAssociateAC,
  encodeAssociateRJ,
  PduType,
  type AssociateRQ,
  type ContextResult,
  type ProposedContext,
  type RoleSelection,
} from "./pdu.js";

export interface AssociationDecision {
  /** Reject the association: result 1 permanent / 2 transient, source, reason. */
  reject?: { result: number; source: number; reason: number };
  /** One result per proposed context (see `negotiateContexts`). */
  contexts?: ContextResult[];
  /** Role selections to confirm. */
  roles?: RoleSelection[];
  /** Our receive limit for this association. */
  maxPdu?: number;
}

export interface ServeOptions {
  port: number;
  /** Address to bind (default all interfaces). */
  host?: string;
  /** Our maximum receive PDU length (default 262144). */
  maxPdu?: number;
  acseTimeoutMs?: number;
  /**
   * DIMSE timeout: an association on which nothing arrives for this long
   * while no request is being served is aborted (default 60 s; 0: never).
   */
  dimseTimeoutMs?: number;
  /** Associations served at once; more are rejected, "local limit exceeded" (default 100). */
  maxAssociations?: number;
  /** Largest message held in memory (command sets, non-storage datasets; default 4 MiB). */
  maxMessageBytes?: number;
  log?: Logger;
  decide(
    rq: AssociateRQ,
    peer: { address: string; port: number },
  ): AssociationDecision | Promise<AssociationDecision>;
  /** Install request handlers on an established association. */
  established(assoc: Association): void;
}

export interface DicomServer {
  readonly server: Server;
  readonly port: number;
  readonly associations: Set<Association>;
  /** Stop accepting; resolves when the listening socket is closed. */
  stopListening(): Promise<void>;
  /** Stop accepting and wait for running associations to end (abort after `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

/**
 * Results for proposed contexts. `accept(abstractSyntax)` returns the
 * transfer syntaxes we accept for it in order of preference, or undefined
 * when the abstract syntax is not supported.
 */
export function negotiateContexts(
  proposed: ProposedContext[],
  accept: (abstractSyntax: string, offered: string[]) => readonly string[] | undefined,
): ContextResult[] {
  return proposed.map((pc) => {
    const ours = accept(pc.abstractSyntax, pc.transferSyntaxes);
    if (!ours) return { id: pc.id, result: 3, transferSyntax: pc.transferSyntaxes[0] ?? "" };
    const ts = ours.find((t) => pc.transferSyntaxes.includes(t));
    if (!ts) return { id: pc.id, result: 4, transferSyntax: pc.transferSyntaxes[0] ?? "" };
    return { id: pc.id, result: 0, transferSyntax: ts };
  });
}

/** Idle associations of a server are aborted after this long (its DIMSE timeout). */
export const DEFAULT_SERVER_DIMSE_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_ASSOCIATIONS = 100;
/** Connections beyond the association limit that still get an answer (A-ASSOCIATE-RJ); more are closed at once. */
const CONNECTION_SLACK = 32;

/** PS3.8 Table 9-21: rejected-transient, service-provider (presentation), local-limit-exceeded. */
export const LOCAL_LIMIT_EXCEEDED = { result: 2, source: 3, reason: 2 } as const;

export async function serve(o: ServeOptions): Promise<DicomServer> {
  const log = o.log ?? nullLogger;
  const associations = new Set<Association>();
  const limits = { max: o.maxAssociations ?? DEFAULT_MAX_ASSOCIATIONS, associated: 0 };
  const server = createServer({ noDelay: true }, (socket) => {
    handleConnection(socket, o, log, associations, limits).catch((err) =>
      log.error(`Association failed: ${(err as Error).message}`),
    );
  });
  server.maxConnections = limits.max + CONNECTION_SLACK;
  server.listen({ port: o.port, host: o.host ?? "0.0.0.0" });
  await Promise.race([
    once(server, "listening"),
    once(server, "error").then(([err]) => {
      throw err;
    }),
  ]);
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : o.port;
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    server,
    port,
    associations,
    stopListening,
    async close(graceMs = 5000) {
      const closed = stopListening();
      if (associations.size > 0) {
        const all = [...associations].map((a) =>
          a.closed ? Promise.resolve() : once(a, "closed").then(() => undefined),
        );
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.all(all), grace]);
        clearTimeout(timer);
        for (const a of associations) a.abort();
      }
      await closed;
    },
  };
}

async function handleConnection(
  socket: Socket,
  o: ServeOptions,
  log: Logger,
  associations: Set<Association>,
  limits: { max: number; associated: number },
): Promise<void> {
  const assoc = new Association(socket, "acceptor", log, {
    maxPdu: o.maxPdu,
    maxMessageBytes: o.maxMessageBytes,
  });
  associations.add(assoc);
  assoc.on("closed", () => associations.delete(assoc));
  const peer = { address: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
  // A connection closed before its request (a port probe) needs no timer.
  const cancelArtim = assoc.artim(o.acseTimeoutMs ?? 30000, () => {
    log.warn("No A-ASSOCIATE-RQ received in time, closing connection");
    socket.destroy();
  });
  assoc.onAssociatePdu((type, body) => {
    cancelArtim();
    if (type !== PduType.AssociateRQ) {
      socket.destroy();
      return;
    }
    assoc.onAssociatePdu(undefined);
    const rq = decodeAssociateRQ(body);
    assoc.requested(rq);
    if (limits.associated >= limits.max) {
      log.warn(
        `rejecting association from "${rq.callingAet}": ${limits.max} associations already (local limit exceeded)`,
      );
      socket.write(encodeAssociateRJ(LOCAL_LIMIT_EXCEEDED));
      socket.end();
      return;
    }
    limits.associated++;
    assoc.once("closed", () => limits.associated--);
    Promise.resolve(o.decide(rq, peer)).then(
      (d) => answer(assoc, rq, d, o),
      (err) => {
        log.error(`Association negotiation failed: ${(err as Error).message}`);
        socket.write(encodeAssociateRJ({ result: 2, source: 2, reason: 1 }));
        socket.end();
      },
    );
  });
}

function answer(
  assoc: Association,
  rq: AssociateRQ,
  d: AssociationDecision,
  o: ServeOptions,
): void {
  const socket = assoc.socket;
  if (rq.applicationContext !== APPLICATION_CONTEXT && !d.reject) {
    d = { reject: { result: 1, source: 1, reason: 2 } };
  }
  if (d.reject) {
    socket.write(encodeAssociateRJ(d.reject));
    socket.end();
    return;
  }
  const contexts = d.contexts ?? negotiateContexts(rq.contexts, () => undefined);
  const ac = assoc.accept(contexts, d.roles ?? [], d.maxPdu);
  o.established(assoc);
  assoc.watchIdle(o.dimseTimeoutMs ?? DEFAULT_SERVER_DIMSE_TIMEOUT_MS);
  socket.write(encodeAssociateAC(ac));
}
