import { rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { dcmtkPrefix, DCMTK_UNKNOWN_PREFIX, Tags, type Dataset } from "@dicom-pipes/dimse/dicom";
import {
  attachScp,
  serve,
  storageContexts,
  storeService,
  type Association,
  type DicomServer,
  type StoredInstance,
  type SyntaxPreference,
} from "@dicom-pipes/dimse/net";
import { insideOrThrow, type FlatRecord, type Layout } from "@dicom-pipes/dimse/records";
import type { CliLogger } from "@dicom-pipes/dimse/cli";
import { TempFolders } from "@dicom-pipes/dimse/app";
import type { DecompressMode } from "@dicom-pipes/dimse/codec";
import type { RetrieveRequest } from "./requests.js";

export interface Active {
  req: RetrieveRequest;
  messageId?: number;
  files: number;
  bytes: number;
}

export interface ReceivingOptions {
  od: string;
  layout: Layout;
  info: boolean;
  ignore: boolean;
  fsync: boolean;
  /** Decode what arrives (`--decompress`, `+te`). */
  decompress?: DecompressMode;
  tsPref: SyntaxPreference;
  log: CliLogger;
  /** Called for each stored file (for --emit files). */
  onFile?: (inst: StoredInstance, active: Active | undefined) => Promise<void>;
}

/** PACSIFIER's `--info` columns (AcquisitionDate is added last when present). */
const INFO_COLUMNS: Array<[string, number]> = [
  ["StudyDate", Tags.StudyDate],
  ["StudyTime", Tags.StudyTime],
  ["SeriesDescription", Tags.SeriesDescription],
  ["PatientID", Tags.PatientID],
  ["ProtocolName", 0x00181030],
  ["StudyInstanceUID", Tags.StudyInstanceUID],
  ["PatientName", Tags.PatientName],
  ["PatientBirthDate", Tags.PatientBirthDate],
  ["SeriesInstanceUID", Tags.SeriesInstanceUID],
  ["DeviceSerialNumber", 0x00181000],
  ["Modality", Tags.Modality],
  ["ImageType", Tags.ImageType],
  ["SeriesNumber", Tags.SeriesNumber],
  ["StudyDescription", Tags.StudyDescription],
  ["AccessionNumber", Tags.AccessionNumber],
  ["SequenceName", 0x00180024],
];
const ACQUISITION_DATE = 0x00080022;

function csvCell(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function infoCsv(head: Dataset): string {
  const cols = [...INFO_COLUMNS];
  if (head.has(ACQUISITION_DATE)) cols.push(["AcquisitionDate", ACQUISITION_DATE]);
  const header = cols.map(([k]) => k).join(",");
  const row = cols.map(([, t]) => csvCell(head.string(t) ?? "")).join(",");
  return `${header}\r\n${row}\r\n`;
}

export class Receiving {
  private readonly active = new Set<Active>();
  private readonly byMessageId = new Map<number, Active>();
  private readonly byGetAssoc = new Map<Association, Active>();
  private readonly infoWritten = new Set<string>();
  private infoSeq = 0;
  received = 0;
  get ignoring(): boolean {
    return this.o.ignore;
  }
  bytes = 0;
  /** Temporary files live under -od (renames into place are atomic), one folder per run. */
  private readonly temps: TempFolders;
  private readonly service: ReturnType<typeof storeService>;

  constructor(private readonly o: ReceivingOptions) {
    this.temps = new TempFolders(o.od, "movescu-ts", /^(movescu|getscu)-ts(\.js)?$/);
    this.service = storeService({
      tmpDir: this.temps.dir,
      fsync: o.fsync,
      decompress: o.decompress,
      ignore: o.ignore,
      log: o.log,
      target: (inst) =>
        o.layout.resolveUnder(o.od, {
          dataset: inst.head,
          extra: {
            prefix: dcmtkPrefix(inst.sopClassUid) ?? DCMTK_UNKNOWN_PREFIX,
            SOPInstanceUID: inst.sopInstanceUid,
            SOPClassUID: inst.sopClassUid,
          },
        }),
      stored: (inst, assoc) => this.stored(inst, assoc),
    });
  }

  async ready(): Promise<void> {
    if (!this.o.ignore) await this.service.receiver.ensureTmpDir();
  }

  /** Remove the temporary folders of earlier runs that were killed. */
  removeStaleTemps(): Promise<void> {
    return this.temps.removeStale();
  }

  /** Remove this run's temporary folder (and the shared one once empty). */
  removeTemps(): Promise<void> {
    return this.temps.remove();
  }

  begin(req: RetrieveRequest): Active {
    const a: Active = { req, files: 0, bytes: 0 };
    this.active.add(a);
    return a;
  }

  setMessageId(a: Active, id: number): void {
    a.messageId = id;
    this.byMessageId.set(id, a);
  }

  end(a: Active): void {
    this.active.delete(a);
    if (a.messageId !== undefined && this.byMessageId.get(a.messageId) === a)
      this.byMessageId.delete(a.messageId);
    for (const [assoc, x] of this.byGetAssoc) if (x === a) this.byGetAssoc.delete(assoc);
  }

  /** C-GET: objects arriving on this association belong to `a`. */
  forGet(assoc: Association, a: Active): void {
    this.byGetAssoc.set(assoc, a);
  }

  /** Install the storage handlers on a C-GET association. */
  attachGet(assoc: Association): void {
    attachScp(assoc, { store: this.service }, this.o.log);
  }

  /** Start the +P listener for C-MOVE sub-associations (-pdu, -ta and -td apply to them, as in DCMTK movescu). */
  async listen(
    port: number,
    o: { bind?: string; maxPdu?: number; acseTimeoutMs: number; dimseTimeoutMs?: number },
  ): Promise<DicomServer> {
    return serve({
      port,
      host: o.bind,
      maxPdu: o.maxPdu,
      acseTimeoutMs: o.acseTimeoutMs,
      dimseTimeoutMs: o.dimseTimeoutMs,
      log: this.o.log,
      decide: (rq) => {
        this.o.log.info(`Sub-Association Received from "${rq.callingAet}"`);
        return { contexts: storageContexts(rq.contexts, this.o.tsPref) };
      },
      established: (assoc) => {
        this.o.log.info(`Sub-Association Acknowledged (Max Send PDV: ${assoc.maxPdvPayload})`);
        attachScp(assoc, { store: this.service }, this.o.log);
      },
    });
  }

  private attribute(inst: StoredInstance, assoc: Association): Active | undefined {
    const viaGet = this.byGetAssoc.get(assoc);
    if (viaGet) return viaGet;
    if (inst.moveOriginatorMessageId !== undefined) {
      const a = this.byMessageId.get(inst.moveOriginatorMessageId);
      if (a) return a;
    }
    const study = inst.head.string(Tags.StudyInstanceUID) ?? "";
    const series = inst.head.string(Tags.SeriesInstanceUID) ?? "";
    const patient = inst.head.string(Tags.PatientID) ?? "";
    const hits = [...this.active].filter(({ req }) => {
      const u = req.uids;
      if (u.sops.length) return u.sops.includes(inst.sopInstanceUid);
      if (u.series.length) return u.series.includes(series);
      if (u.studies.length) return u.studies.includes(study);
      return u.patient !== undefined && u.patient === patient;
    });
    return hits.length === 1 ? hits[0] : undefined;
  }

  private async stored(inst: StoredInstance, assoc: Association): Promise<void> {
    const a = this.attribute(inst, assoc);
    this.received++;
    this.bytes += inst.bytes;
    if (a) {
      a.files++;
      a.bytes += inst.bytes;
    } else {
      this.o.log.warn(`received ${inst.sopInstanceUid}, which no running request asked for`);
    }
    if (this.o.info) await this.writeInfo(inst);
    await this.o.onFile?.(inst, a);
  }

  private async writeInfo(inst: StoredInstance): Promise<void> {
    const series = inst.head.string(Tags.SeriesInstanceUID) ?? inst.sopInstanceUid;
    if (this.infoWritten.has(series)) return;
    this.infoWritten.add(series);
    const dir = dirname(inst.path);
    const path =
      resolve(dir) === resolve(this.o.od)
        ? insideOrThrow(this.o.od, `${series}.csv`)
        : `${dir}.csv`;
    // Written in this run's temporary folder (removed at exit, and by the next run after a kill).
    const tmp = join(this.temps.dir, `info-${++this.infoSeq}.csv.part`);
    await writeFile(tmp, infoCsv(inst.head));
    await rename(tmp, path);
  }
}

export function fileRecord(inst: StoredInstance, a: Active | undefined): FlatRecord {
  return {
    ...(a?.req.record.query !== undefined ? { query: a.req.record.query } : {}),
    path: inst.path,
    bytes: inst.bytes,
    SOPClassUID: inst.sopClassUid,
    SOPInstanceUID: inst.sopInstanceUid,
    StudyInstanceUID: inst.head.string(Tags.StudyInstanceUID) ?? null,
    SeriesInstanceUID: inst.head.string(Tags.SeriesInstanceUID) ?? null,
  };
}
