/**
 * Raw-socket tools for hostile-peer tests: PDUs built by hand (PS3.8 §9.3),
 * DIMSE messages with any UIDs, and what the server process holds
 * (resident memory, open descriptors) read from /proc.
 */
import { readdirSync, readFileSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { Dataset, encodeDataset, SopClass, Tags, TransferSyntax } from "@dicom-pipes/dimse/dicom";
import {
  CommandField,
  connect,
  echo,
  encodeAssociateRQ,
  encodeCommand,
  APPLICATION_CONTEXT,
  type Association,
} from "@dicom-pipes/dimse/net";

export const HOST = "127.0.0.1";
export const SC_IMAGE = "1.2.840.10008.5.1.4.1.1.7";
const ELE = TransferSyntax.ExplicitVRLittleEndian;

/** A P-DATA-TF PDU holding one PDV item (PS3.8 §9.3.5). */
export function pdata(pcid: number, isCommand: boolean, isLast: boolean, data: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x04;
  h.writeUInt32BE(data.length + 6, 2);
  h.writeUInt32BE(data.length + 2, 6);
  h[10] = pcid;
  h[11] = (isCommand ? 1 : 0) | (isLast ? 2 : 0);
  return Buffer.concat([h, data]);
}

/** A PDU of any type with any body. */
export function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

/** A valid A-ASSOCIATE-RQ proposing Verification and SC Image Storage (ids 1 and 3). */
export function associateRq(callingAet = "HOSTILE", calledAet = "STORESCP"): Buffer {
  return encodeAssociateRQ({
    calledAet,
    callingAet,
    applicationContext: APPLICATION_CONTEXT,
    contexts: [
      { id: 1, abstractSyntax: SopClass.Verification, transferSyntaxes: [ELE] },
      { id: 3, abstractSyntax: SC_IMAGE, transferSyntaxes: [ELE] },
    ],
    maxPdu: 16384,
    implementationClassUid: "1.2.3.4",
    roles: [],
  });
}

/** A C-ECHO-RQ command set; `withDataset` announces a data set (which C-ECHO never has). */
export function echoCommand(messageId = 1, withDataset = false): Buffer {
  return encodeCommand({
    commandField: CommandField.CEchoRQ,
    messageId,
    affectedSopClassUid: SopClass.Verification,
    hasDataset: withDataset,
  });
}

export interface RawPeer {
  socket: Socket;
  /** Every byte received so far. */
  received(): Buffer;
  /** PDU types received so far, in order. */
  types(): number[];
  /** Resolves when the server closes the connection (true), or false after `ms`. */
  closed(ms: number): Promise<boolean>;
  /** Write, resolving false when the connection is gone. */
  send(b: Buffer): Promise<boolean>;
  /** Wait until a PDU of `type` arrived (true) or `ms` passed (false). */
  waitFor(type: number, ms: number): Promise<boolean>;
}

/** A TCP connection that speaks whatever the test writes. */
export async function rawPeer(port: number): Promise<RawPeer> {
  const socket = tcpConnect({ host: HOST, port });
  socket.on("error", () => undefined);
  await new Promise<void>((res, rej) => {
    socket.once("connect", res);
    socket.once("error", rej);
  });
  const chunks: Buffer[] = [];
  let gone = false;
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("close", () => (gone = true));
  const received = () => Buffer.concat(chunks);
  const types = () => {
    const b = received();
    const out: number[] = [];
    for (let o = 0; o + 6 <= b.length; o += 6 + b.readUInt32BE(o + 2)) out.push(b[o]!);
    return out;
  };
  const poll = async (ok: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  };
  return {
    socket,
    received,
    types,
    closed: (ms) => poll(() => gone, ms),
    waitFor: (type, ms) => poll(() => types().includes(type), ms),
    send: (b) =>
      new Promise<boolean>((res) => {
        if (gone || socket.destroyed) return res(false);
        const ok = socket.write(b, (err) => {
          if (err) res(false);
          else if (ok) res(true);
        });
        if (!ok) socket.once("drain", () => res(true)).once("close", () => res(false));
      }),
  };
}

/** Open a raw connection and negotiate an association (contexts 1: Verification, 3: SC storage). */
export async function rawAssociation(port: number, callingAet = "HOSTILE"): Promise<RawPeer> {
  const peer = await rawPeer(port);
  await peer.send(associateRq(callingAet));
  if (!(await peer.waitFor(0x02, 5000)))
    throw new Error(`no A-ASSOCIATE-AC (got ${peer.types().join(",")})`);
  return peer;
}

/** A small SC image data set (no pixels) with the given values. */
export function instance(v: {
  sopInstanceUid: string;
  studyUid?: string;
  seriesUid?: string;
  patientId?: string;
  patientName?: string;
}): Buffer {
  const ds = new Dataset();
  ds.setString(Tags.SOPClassUID, "UI", SC_IMAGE);
  ds.setString(Tags.SOPInstanceUID, "UI", v.sopInstanceUid);
  ds.setString(Tags.StudyInstanceUID, "UI", v.studyUid ?? "1.2.826.0.1.3680043.2.1125.1");
  ds.setString(Tags.SeriesInstanceUID, "UI", v.seriesUid ?? "1.2.826.0.1.3680043.2.1125.1.1");
  ds.setString(Tags.PatientID, "LO", v.patientId ?? "PID1");
  ds.setString(Tags.PatientName, "PN", v.patientName ?? "Doe^Jane");
  ds.setString(Tags.Modality, "CS", "OT");
  return encodeDataset(ds, ELE);
}

/** Open an association with any calling AE title (contexts for Verification and SC storage). */
export function associate(port: number, callingAet = "HOSTILE"): Promise<Association> {
  return connect({
    host: HOST,
    port,
    callingAet,
    calledAet: "STORESCP",
    contexts: [
      { abstractSyntax: SopClass.Verification, transferSyntaxes: [ELE] },
      { abstractSyntax: SC_IMAGE, transferSyntaxes: [ELE] },
    ],
    acseTimeoutMs: 5000,
  });
}

/** Send a C-STORE whose command names `affectedSopInstanceUid` and whose data set is `data`; resolves the response status. */
export function store(
  assoc: Association,
  affectedSopInstanceUid: string,
  data: Buffer,
): Promise<number> {
  const pc = assoc.contextFor(SC_IMAGE)!;
  const id = assoc.allocateMessageId();
  return new Promise<number>((resolve, reject) => {
    assoc.expectResponses(id, {
      message: (m) => {
        assoc.stopExpecting(id);
        resolve(m.command.status ?? -1);
      },
      error: reject,
    });
    assoc
      .sendMessage(
        pc.id,
        {
          commandField: CommandField.CStoreRQ,
          messageId: id,
          affectedSopClassUid: SC_IMAGE,
          affectedSopInstanceUid,
          priority: 0,
          hasDataset: true,
        },
        data,
      )
      .catch(reject);
  });
}

/** A C-ECHO on a fresh association: the server still serves. */
export async function echoWorks(port: number): Promise<boolean> {
  const a = await associate(port, "PROBE");
  try {
    return (await echo(a, { dimseTimeoutMs: 5000 })) === 0;
  } finally {
    await a.release().catch(() => undefined);
  }
}

/** Resident and peak memory (KiB) and open descriptors of a process. */
export function procStats(pid: number): { rssKiB: number; peakKiB: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, "latin1");
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return {
    rssKiB: kib("VmRSS"),
    peakKiB: kib("VmHWM"),
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}

/** The flood's ceiling: a server that has not ended the association by then holds everything it was sent. */
export const FLOOD_LIMIT = 96 * 1024 * 1024;

/**
 * A C-ECHO announcing a data set (C-ECHO has none), then data set
 * fragments until the server ends the association or FLOOD_LIMIT bytes
 * were written. What is in flight when the abort comes is read and
 * dropped by the server, so `sent` exceeds its cap.
 */
export async function endlessEcho(port: number): Promise<{ sent: number; ended: boolean }> {
  const peer = await rawAssociation(port);
  await peer.send(pdata(1, true, true, echoCommand(1, true)));
  const chunk = pdata(1, false, false, Buffer.alloc(256 * 1024, 0x41));
  let sent = 0;
  while (sent < FLOOD_LIMIT && (await peer.send(chunk))) sent += chunk.length;
  const ended = (await peer.closed(5000)) || peer.types().includes(0x07);
  peer.socket.destroy();
  return { sent, ended };
}
