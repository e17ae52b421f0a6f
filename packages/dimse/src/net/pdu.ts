/** Upper-layer PDUs (PS3.8 section 9): encoding and decoding. */

export const PduType = {
  AssociateRQ: 0x01,
  AssociateAC: 0x02,
  AssociateRJ: 0x03,
  PData: 0x04,
  ReleaseRQ: 0x05,
  ReleaseRP: 0x06,
  Abort: 0x07,
} as const;

export const APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1";

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface RoleSelection {
  sopClass: string;
  scu: boolean;
  scp: boolean;
}

export interface UserIdentity {
  type: number;
  positiveResponseRequested: boolean;
  primary: Buffer;
  secondary: Buffer;
}

export interface AssociateRQ {
  calledAet: string;
  callingAet: string;
  applicationContext: string;
  contexts: ProposedContext[];
  maxPdu: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  asyncOps?: { invoked: number; performed: number };
  roles: RoleSelection[];
  userIdentity?: UserIdentity;
}

export interface ContextResult {
  id: number;
  /** 0 acceptance, 1 user rejection, 2 no reason, 3 abstract syntax not supported, 4 transfer syntaxes not supported */
  result: number;
  transferSyntax: string;
}

export interface AssociateAC {
  calledAet: string;
  callingAet: string;
  applicationContext: string;
  contexts: ContextResult[];
  maxPdu: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  asyncOps?: { invoked: number; performed: number };
  roles: RoleSelection[];
  userIdentityResponse?: Buffer;
}

export interface AssociateRJ {
  result: number;
  source: number;
  reason: number;
}

export interface AbortInfo {
  source: number;
  reason: number;
}

export class PduError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PduError";
  }
}

// ---------------------------------------------------------------- encoding

function aeField(ae: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(ae.slice(0, 16), 0, "latin1");
  return b;
}

function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function uidItem(type: number, uid: string): Buffer {
  return item(type, Buffer.from(uid, "latin1"));
}

function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

function userInfo(
  o: {
    maxPdu: number;
    implementationClassUid: string;
    implementationVersionName?: string;
    asyncOps?: { invoked: number; performed: number };
    roles: RoleSelection[];
  },
  extra: Buffer[] = [],
): Buffer {
  const sub: Buffer[] = [];
  const max = Buffer.alloc(4);
  max.writeUInt32BE(o.maxPdu >>> 0, 0);
  sub.push(item(0x51, max));
  sub.push(uidItem(0x52, o.implementationClassUid));
  if (o.asyncOps) {
    const a = Buffer.alloc(4);
    a.writeUInt16BE(o.asyncOps.invoked, 0);
    a.writeUInt16BE(o.asyncOps.performed, 2);
    sub.push(item(0x53, a));
  }
  for (const r of o.roles) {
    const uid = Buffer.from(r.sopClass, "latin1");
    const body = Buffer.alloc(2 + uid.length + 2);
    body.writeUInt16BE(uid.length, 0);
    uid.copy(body, 2);
    body[2 + uid.length] = r.scu ? 1 : 0;
    body[3 + uid.length] = r.scp ? 1 : 0;
    sub.push(item(0x54, body));
  }
  if (o.implementationVersionName)
    sub.push(item(0x55, Buffer.from(o.implementationVersionName.slice(0, 16), "latin1")));
  sub.push(...extra);
  return item(0x50, Buffer.concat(sub));
}

function assocHeader(calledAet: string, callingAet: string): Buffer {
  const h = Buffer.alloc(68);
  h.writeUInt16BE(1, 0);
  aeField(calledAet).copy(h, 4);
  aeField(callingAet).copy(h, 20);
  return h;
}

export function encodeAssociateRQ(rq: AssociateRQ): Buffer {
  const parts: Buffer[] = [
    assocHeader(rq.calledAet, rq.callingAet),
    uidItem(0x10, rq.applicationContext),
  ];
  for (const pc of rq.contexts) {
    const subs = [
      uidItem(0x30, pc.abstractSyntax),
      ...pc.transferSyntaxes.map((ts) => uidItem(0x40, ts)),
    ];
    parts.push(item(0x20, Buffer.concat([Buffer.from([pc.id, 0, 0, 0]), ...subs])));
  }
  const extra: Buffer[] = [];
  if (rq.userIdentity) {
    const u = rq.userIdentity;
    const body = Buffer.alloc(2 + 2 + u.primary.length + 2 + u.secondary.length);
    body[0] = u.type;
    body[1] = u.positiveResponseRequested ? 1 : 0;
    body.writeUInt16BE(u.primary.length, 2);
    u.primary.copy(body, 4);
    body.writeUInt16BE(u.secondary.length, 4 + u.primary.length);
    u.secondary.copy(body, 6 + u.primary.length);
    extra.push(item(0x58, body));
  }
  parts.push(userInfo(rq, extra));
  return pdu(PduType.AssociateRQ, Buffer.concat(parts));
}

export function encodeAssociateAC(ac: AssociateAC): Buffer {
  const parts: Buffer[] = [
    assocHeader(ac.calledAet, ac.callingAet),
    uidItem(0x10, ac.applicationContext),
  ];
  for (const pc of ac.contexts) {
    parts.push(
      item(
        0x21,
        Buffer.concat([Buffer.from([pc.id, 0, pc.result, 0]), uidItem(0x40, pc.transferSyntax)]),
      ),
    );
  }
  const extra: Buffer[] = [];
  if (ac.userIdentityResponse) {
    const body = Buffer.alloc(2 + ac.userIdentityResponse.length);
    body.writeUInt16BE(ac.userIdentityResponse.length, 0);
    ac.userIdentityResponse.copy(body, 2);
    extra.push(item(0x59, body));
  }
  parts.push(userInfo(ac, extra));
  return pdu(PduType.AssociateAC, Buffer.concat(parts));
}

export function encodeAssociateRJ(rj: AssociateRJ): Buffer {
  return pdu(PduType.AssociateRJ, Buffer.from([0, rj.result, rj.source, rj.reason]));
}

export function encodeReleaseRQ(): Buffer {
  return pdu(PduType.ReleaseRQ, Buffer.alloc(4));
}

export function encodeReleaseRP(): Buffer {
  return pdu(PduType.ReleaseRP, Buffer.alloc(4));
}

export function encodeAbort(source = 0, reason = 0): Buffer {
  return pdu(PduType.Abort, Buffer.from([0, 0, source, reason]));
}

/** PDU header plus PDV header for one P-DATA-TF PDU holding one PDV. */
export function pdataHeader(
  pcid: number,
  isCommand: boolean,
  isLast: boolean,
  dataLength: number,
): Buffer {
  const h = Buffer.allocUnsafe(12);
  h[0] = PduType.PData;
  h[1] = 0;
  h.writeUInt32BE(dataLength + 6, 2);
  h.writeUInt32BE(dataLength + 2, 6);
  h[10] = pcid;
  h[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return h;
}

// ---------------------------------------------------------------- decoding

function readAe(b: Buffer, o: number): string {
  return b.toString("latin1", o, o + 16).trim();
}

interface ParsedItems {
  applicationContext: string;
  rqContexts: ProposedContext[];
  acContexts: ContextResult[];
  maxPdu: number;
  implementationClassUid: string;
  implementationVersionName?: string;
  asyncOps?: { invoked: number; performed: number };
  roles: RoleSelection[];
  userIdentity?: UserIdentity;
  userIdentityResponse?: Buffer;
}

function parseItems(b: Buffer, start: number): ParsedItems {
  const out: ParsedItems = {
    applicationContext: "",
    rqContexts: [],
    acContexts: [],
    maxPdu: 0,
    implementationClassUid: "",
    roles: [],
  };
  let o = start;
  while (o + 4 <= b.length) {
    const type = b[o]!;
    const len = b.readUInt16BE(o + 2);
    const body = b.subarray(o + 4, o + 4 + len);
    if (body.length < len) throw new PduError("truncated association item");
    o += 4 + len;
    switch (type) {
      case 0x10:
        out.applicationContext = body.toString("latin1", 0, body.length).replace(/\0+$/, "");
        break;
      case 0x20: {
        const pc: ProposedContext = { id: body[0]!, abstractSyntax: "", transferSyntaxes: [] };
        let s = 4;
        while (s + 4 <= body.length) {
          const st = body[s]!;
          const sl = body.readUInt16BE(s + 2);
          const uid = body.toString("latin1", s + 4, s + 4 + sl).replace(/\0+$/, "");
          if (st === 0x30) pc.abstractSyntax = uid;
          else if (st === 0x40) pc.transferSyntaxes.push(uid);
          s += 4 + sl;
        }
        out.rqContexts.push(pc);
        break;
      }
      case 0x21: {
        let ts = "";
        let s = 4;
        while (s + 4 <= body.length) {
          const st = body[s]!;
          const sl = body.readUInt16BE(s + 2);
          if (st === 0x40) ts = body.toString("latin1", s + 4, s + 4 + sl).replace(/\0+$/, "");
          s += 4 + sl;
        }
        out.acContexts.push({ id: body[0]!, result: body[2]!, transferSyntax: ts });
        break;
      }
      case 0x50: {
        let s = 0;
        while (s + 4 <= body.length) {
          const st = body[s]!;
          const sl = body.readUInt16BE(s + 2);
          const sb = body.subarray(s + 4, s + 4 + sl);
          s += 4 + sl;
          switch (st) {
            case 0x51:
              if (sb.length >= 4) out.maxPdu = sb.readUInt32BE(0);
              break;
            case 0x52:
              out.implementationClassUid = sb.toString("latin1", 0, sb.length).replace(/\0+$/, "");
              break;
            case 0x53:
              if (sb.length >= 4)
                out.asyncOps = { invoked: sb.readUInt16BE(0), performed: sb.readUInt16BE(2) };
              break;
            case 0x54: {
              const ul = sb.readUInt16BE(0);
              out.roles.push({
                sopClass: sb.toString("latin1", 2, 2 + ul).replace(/\0+$/, ""),
                scu: sb[2 + ul] === 1,
                scp: sb[3 + ul] === 1,
              });
              break;
            }
            case 0x55:
              out.implementationVersionName = sb.toString("latin1", 0, sb.length).trim();
              break;
            case 0x58: {
              const pl = sb.readUInt16BE(2);
              const primary = sb.subarray(4, 4 + pl);
              const sl2 = sb.length >= 6 + pl ? sb.readUInt16BE(4 + pl) : 0;
              out.userIdentity = {
                type: sb[0]!,
                positiveResponseRequested: sb[1] === 1,
                primary,
                secondary: sb.subarray(6 + pl, 6 + pl + sl2),
              };
              break;
            }
            case 0x59: {
              const rl = sb.readUInt16BE(0);
              out.userIdentityResponse = sb.subarray(2, 2 + rl);
              break;
            }
          }
        }
        break;
      }
    }
  }
  return out;
}

export function decodeAssociateRQ(body: Buffer): AssociateRQ {
  if (body.length < 68) throw new PduError("A-ASSOCIATE-RQ too short");
  const items = parseItems(body, 68);
  return {
    calledAet: readAe(body, 4),
    callingAet: readAe(body, 20),
    applicationContext: items.applicationContext,
    contexts: items.rqContexts,
    maxPdu: items.maxPdu,
    implementationClassUid: items.implementationClassUid,
    implementationVersionName: items.implementationVersionName,
    asyncOps: items.asyncOps,
    roles: items.roles,
    userIdentity: items.userIdentity,
  };
}

export function decodeAssociateAC(body: Buffer): AssociateAC {
  if (body.length < 68) throw new PduError("A-ASSOCIATE-AC too short");
  const items = parseItems(body, 68);
  return {
    calledAet: readAe(body, 4),
    callingAet: readAe(body, 20),
    applicationContext: items.applicationContext,
    contexts: items.acContexts,
    maxPdu: items.maxPdu,
    implementationClassUid: items.implementationClassUid,
    implementationVersionName: items.implementationVersionName,
    asyncOps: items.asyncOps,
    roles: items.roles,
    userIdentityResponse: items.userIdentityResponse,
  };
}

export function decodeAssociateRJ(body: Buffer): AssociateRJ {
  return { result: body[1] ?? 0, source: body[2] ?? 0, reason: body[3] ?? 0 };
}

export function decodeAbort(body: Buffer): AbortInfo {
  return { source: body[2] ?? 0, reason: body[3] ?? 0 };
}

// ---------------------------------------------------------------- texts (as DCMTK prints them)

export function rejectResultText(r: number): string {
  return r === 1 ? "Rejected Permanent" : r === 2 ? "Rejected Transient" : `Unknown (${r})`;
}

export function rejectSourceText(s: number): string {
  switch (s) {
    case 1:
      return "Service User";
    case 2:
      return "Service Provider (ACSE Related)";
    case 3:
      return "Service Provider (Presentation Related)";
    default:
      return `Unknown (${s})`;
  }
}

export function rejectReasonText(source: number, reason: number): string {
  if (source === 1) {
    switch (reason) {
      case 1:
        return "No Reason";
      case 2:
        return "Application Context Name Not Supported";
      case 3:
        return "Calling AE Title Not Recognized";
      case 7:
        return "Called AE Title Not Recognized";
    }
  } else if (source === 2) {
    if (reason === 1) return "No Reason";
    if (reason === 2) return "Protocol Version Not Supported";
  } else if (source === 3) {
    if (reason === 1) return "Temporary Congestion";
    if (reason === 2) return "Local Limit Exceeded";
  }
  return `Unknown (${reason})`;
}

export function abortText(a: AbortInfo): string {
  const src =
    a.source === 0
      ? "Service User"
      : a.source === 2
        ? "Service Provider"
        : `Unknown source ${a.source}`;
  const reasons = [
    "Reason Not Specified",
    "Unrecognized PDU",
    "Unexpected PDU",
    "Reserved",
    "Unrecognized PDU Parameter",
    "Unexpected PDU Parameter",
    "Invalid PDU Parameter Value",
  ];
  return a.source === 2 ? `${src}: ${reasons[a.reason] ?? `reason ${a.reason}`}` : src;
}
