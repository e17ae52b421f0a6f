/**
 * Association negotiation (PS3.8 §7.1, the ACSE part): what was proposed
 * and accepted — presentation contexts, maximum PDU lengths, SCP/SCU
 * roles, our implementation class UID and version name. Builds the
 * A-ASSOCIATE-RQ (requestor) or -AC (acceptor) and records the outcome.
 */
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from "../dicom/uid.js";
import {
  APPLICATION_CONTEXT,
  type AssociateAC,
  type AssociateRQ,
  type ContextResult,
  type ProposedContext,
  type RoleSelection,
  type UserIdentity,
} from "./pdu.js";

export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

/** Our receive limit when the caller sets none. */
export const DEFAULT_MAX_PDU = 262144;
/** PDV payload when the peer sets no limit. */
const UNLIMITED_PDV = 1024 * 1024;

export interface Proposal {
  callingAet: string;
  calledAet: string;
  contexts: ProposedContext[];
  roles: RoleSelection[];
  userIdentity?: UserIdentity;
}

export class Negotiation {
  private request?: AssociateRQ;
  private acceptance?: AssociateAC;
  /** Accepted presentation contexts by id. */
  readonly contexts = new Map<number, AcceptedContext>();
  /** Roles the acceptor agreed to, by SOP class. */
  readonly roles = new Map<string, RoleSelection>();
  /** Our maximum receive PDU length (announced; 0 = unlimited). */
  ownMaxPdu: number;
  /** The peer's maximum receive PDU length (0 = unlimited). */
  peerMaxPdu = 16384;

  constructor(ownMaxPdu = DEFAULT_MAX_PDU) {
    this.ownMaxPdu = ownMaxPdu;
  }

  get rq(): AssociateRQ | undefined {
    return this.request;
  }

  get ac(): AssociateAC | undefined {
    return this.acceptance;
  }

  /** Requestor: the A-ASSOCIATE-RQ to send (AE titles cut to 16 characters). */
  propose(p: Proposal): AssociateRQ {
    this.request = {
      calledAet: p.calledAet.slice(0, 16),
      callingAet: p.callingAet.slice(0, 16),
      applicationContext: APPLICATION_CONTEXT,
      contexts: p.contexts,
      maxPdu: this.ownMaxPdu,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      roles: p.roles,
      userIdentity: p.userIdentity,
    };
    return this.request;
  }

  /** Requestor: the peer's A-ASSOCIATE-AC. */
  accepted(ac: AssociateAC): void {
    this.acceptance = ac;
    this.peerMaxPdu = ac.maxPdu;
    this.record(this.request?.contexts ?? [], ac.contexts, ac.roles);
  }

  /** Acceptor: the peer's A-ASSOCIATE-RQ. */
  requested(rq: AssociateRQ): void {
    this.request = rq;
    this.peerMaxPdu = rq.maxPdu;
  }

  /** Acceptor: the A-ASSOCIATE-AC to send for these results (and our receive limit, if given). */
  accept(contexts: ContextResult[], roles: RoleSelection[], maxPdu?: number): AssociateAC {
    const rq = this.request;
    if (!rq) throw new Error("no A-ASSOCIATE-RQ to accept");
    if (maxPdu !== undefined) this.ownMaxPdu = maxPdu;
    this.acceptance = {
      calledAet: rq.calledAet,
      callingAet: rq.callingAet,
      applicationContext: APPLICATION_CONTEXT,
      contexts,
      maxPdu: this.ownMaxPdu,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      roles,
    };
    this.record(rq.contexts, contexts, roles);
    return this.acceptance;
  }

  /** Record the accepted contexts and the agreed roles. */
  private record(
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
}
