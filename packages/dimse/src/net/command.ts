/** DIMSE command sets (group 0000, always Implicit VR Little Endian) and status codes. */

export const CommandField = {
  CStoreRQ: 0x0001,
  CStoreRSP: 0x8001,
  CGetRQ: 0x0010,
  CGetRSP: 0x8010,
  CFindRQ: 0x0020,
  CFindRSP: 0x8020,
  CMoveRQ: 0x0021,
  CMoveRSP: 0x8021,
  CEchoRQ: 0x0030,
  CEchoRSP: 0x8030,
  CCancelRQ: 0x0fff,
} as const;

export const Priority = { Medium: 0, High: 1, Low: 2 } as const;

export const NO_DATASET = 0x0101;

export interface Command {
  commandField: number;
  messageId?: number;
  messageIdBeingRespondedTo?: number;
  affectedSopClassUid?: string;
  requestedSopClassUid?: string;
  affectedSopInstanceUid?: string;
  requestedSopInstanceUid?: string;
  moveDestination?: string;
  priority?: number;
  hasDataset: boolean;
  status?: number;
  offendingElement?: number[];
  errorComment?: string;
  errorId?: number;
  remaining?: number;
  completed?: number;
  failed?: number;
  warning?: number;
  moveOriginatorAet?: string;
  moveOriginatorMessageId?: number;
}

type Field = [elem: number, vr: "UI" | "US" | "AE" | "LO" | "AT", key: keyof Command];

/** In ascending element order: encodeCommand writes them, and Data Set Type (0000,0800), in this order. */
const FIELDS: Field[] = [
  [0x0002, "UI", "affectedSopClassUid"],
  [0x0003, "UI", "requestedSopClassUid"],
  [0x0100, "US", "commandField"],
  [0x0110, "US", "messageId"],
  [0x0120, "US", "messageIdBeingRespondedTo"],
  [0x0600, "AE", "moveDestination"],
  [0x0700, "US", "priority"],
  [0x0900, "US", "status"],
  [0x0901, "AT", "offendingElement"],
  [0x0902, "LO", "errorComment"],
  [0x0903, "US", "errorId"],
  [0x1000, "UI", "affectedSopInstanceUid"],
  [0x1001, "UI", "requestedSopInstanceUid"],
  [0x1020, "US", "remaining"],
  [0x1021, "US", "completed"],
  [0x1022, "US", "failed"],
  [0x1023, "US", "warning"],
  [0x1030, "AE", "moveOriginatorAet"],
  [0x1031, "US", "moveOriginatorMessageId"],
];
const BY_ELEM = new Map(FIELDS.map((f) => [f[0], f]));

/** The encoded length of a field's value (even). */
function valueLength(vr: Field[1], v: unknown): number {
  if (vr === "US") return 2;
  if (vr === "AT") return (v as number[]).length * 4;
  // Command texts are ASCII (UIDs, AE titles, comments): one byte per character, padded to even.
  const n = Buffer.byteLength(String(v), "latin1");
  return n + (n & 1);
}

/**
 * The command set in Implicit VR Little Endian, elements in tag order, the
 * group length first: measured, then written into one buffer (a response
 * is encoded for every stored object and every C-FIND match).
 */
export function encodeCommand(cmd: Command): Buffer {
  let size = 12 + 10; // (0000,0000) group length and (0000,0800) data set type
  for (const [, vr, key] of FIELDS) {
    const v = cmd[key];
    if (v !== undefined) size += 8 + valueLength(vr, v);
  }
  const b = Buffer.allocUnsafe(size);
  let o = header(b, 0, 0x0000, 4);
  o = b.writeUInt32LE(size - 12, o);
  let typeWritten = false;
  const dataSetType = () => {
    o = header(b, o, 0x0800, 2);
    o = b.writeUInt16LE(cmd.hasDataset ? 0x0000 : NO_DATASET, o);
    typeWritten = true;
  };
  for (const [elem, vr, key] of FIELDS) {
    const v = cmd[key];
    if (v === undefined) continue;
    if (!typeWritten && elem > 0x0800) dataSetType();
    const len = valueLength(vr, v);
    o = header(b, o, elem, len);
    if (vr === "US") o = b.writeUInt16LE(Number(v) & 0xffff, o);
    else if (vr === "AT") {
      for (const t of v as number[]) {
        o = b.writeUInt16LE(t >>> 16, o);
        o = b.writeUInt16LE(t & 0xffff, o);
      }
    } else {
      const end = o + len;
      o += b.write(String(v), o, "latin1");
      // UIDs are padded with NUL, other texts with a space (PS3.5 §6.2).
      if (o < end) b[o++] = vr === "UI" ? 0x00 : 0x20;
    }
  }
  if (!typeWritten) dataSetType();
  return b;
}

/** An element header (group 0000, implicit VR): returns the offset after it. */
function header(b: Buffer, o: number, elem: number, len: number): number {
  b.writeUInt16LE(0x0000, o);
  b.writeUInt16LE(elem, o + 2);
  b.writeUInt32LE(len, o + 4);
  return o + 8;
}

export class CommandError extends Error {}

/**
 * Little endian integers by byte arithmetic: a command set is decoded for
 * every message, mostly before V8 optimises this code, where
 * readUInt16LE's checks cost more than the decoding.
 */
const le16 = (b: Buffer, o: number): number => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Buffer, o: number): number =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;

/** A text value without trailing NULs and spaces and leading spaces. */
function commandText(b: Buffer, start: number, end: number): string {
  while (end > start && (b[end - 1] === 0x00 || b[end - 1] === 0x20)) end--;
  while (start < end && b[start] === 0x20) start++;
  return b.toString("latin1", start, end);
}

export function decodeCommand(buf: Buffer): Command {
  const cmd: Record<string, unknown> = { hasDataset: false };
  const n = buf.length;
  let o = 0;
  let dataSetType = NO_DATASET;
  while (o + 8 <= n) {
    const group = le16(buf, o);
    const elem = le16(buf, o + 2);
    const start = o + 8;
    const end = start + le32(buf, o + 4);
    if (end > n) throw new CommandError("truncated command set");
    o = end;
    if (group !== 0x0000) continue;
    if (elem === 0x0800) {
      dataSetType = end - start >= 2 ? le16(buf, start) : NO_DATASET;
      continue;
    }
    const f = BY_ELEM.get(elem);
    if (f === undefined) continue;
    const key = f[2];
    if (f[1] === "US") cmd[key] = end - start >= 2 ? le16(buf, start) : 0;
    else if (f[1] === "AT") {
      const tags: number[] = [];
      for (let i = start; i + 4 <= end; i += 4)
        tags.push(((le16(buf, i) << 16) | le16(buf, i + 2)) >>> 0);
      cmd[key] = tags;
    } else cmd[key] = commandText(buf, start, end);
  }
  if (cmd.commandField === undefined)
    throw new CommandError("command set without Command Field (0000,0100)");
  cmd.hasDataset = dataSetType !== NO_DATASET;
  return cmd as unknown as Command;
}

export function isPending(status: number): boolean {
  return status === 0xff00 || status === 0xff01;
}

export type StatusClass = "Success" | "Pending" | "Warning" | "Failure" | "Cancel";

export function statusClass(status: number): StatusClass {
  if (status === 0x0000) return "Success";
  if (isPending(status)) return "Pending";
  if (status === 0xfe00) return "Cancel";
  if (
    status === 0x0001 ||
    status === 0x0107 ||
    status === 0x0116 ||
    (status >= 0xb000 && status <= 0xbfff)
  )
    return "Warning";
  return "Failure";
}

export function statusHex(status: number): string {
  return `0x${status.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * DCMTK's text for a status in a response, e.g. `Pending`, `Success`,
 * `Refused: OutOfResources`, `Failed: UnableToProcess`.
 */
export function statusText(
  status: number,
  service: "find" | "move" | "get" | "store" | "echo" = "find",
): string {
  if (status === 0x0000) return "Success";
  if (status === 0xff00) return "Pending";
  if (status === 0xff01) return "Pending (Warning)";
  if (status === 0xfe00) return "Cancel";
  const known: Record<number, string> = {
    0xa700: "Refused: OutOfResources",
    0xa701:
      service === "move" || service === "get"
        ? "Refused: OutOfResourcesNumberOfMatches"
        : "Refused: OutOfResources",
    0xa702: "Refused: OutOfResourcesSubOperations",
    0xa801: "Refused: MoveDestinationUnknown",
    0xa900: "Error: DataSetDoesNotMatchSOPClass",
    0xb000:
      service === "store"
        ? "Warning: CoercionOfDataElements"
        : "Warning: SubOperationsCompleteOneOrMoreFailures",
    0xb007: "Warning: DataSetDoesNotMatchSOPClass",
    0xb006: "Warning: ElementsDiscarded",
    0x0122: "Failed: SOPClassNotSupported",
    0x0110: "Failed: ProcessingFailure",
    0x0211: "Failed: UnrecognizedOperation",
    0x0117: "Failed: InvalidObjectInstance",
    0x0124: "Failed: NotAuthorized",
  };
  const t = known[status];
  if (t) return t;
  if ((status & 0xf000) === 0xc000)
    return service === "store" ? "Error: CannotUnderstand" : "Failed: UnableToProcess";
  if ((status & 0xff00) === 0xa700) return "Refused: OutOfResources";
  if ((status & 0xff00) === 0xa900) return "Error: DataSetDoesNotMatchSOPClass";
  if ((status & 0xf000) === 0xb000) return `Warning: ${statusHex(status)}`;
  return `Failure: ${statusHex(status)}`;
}
