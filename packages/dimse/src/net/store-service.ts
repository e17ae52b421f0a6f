/**
 * A storage service for any acceptor (storescp-ts, movescu-ts receiving
 * C-MOVE sub-operations, C-GET on the requestor's association): accepts
 * storage contexts, streams each instance to a temporary file, places it
 * under the output directory, and answers only when the file is in place.
 */
import { Writable } from "node:stream";
import { SopClass } from "../dicom/uid.js";
import { storageSopClasses, uidType } from "../dicom/uid-table.js";
import { TransferSyntax } from "../dicom/syntax.js";
import { Tags } from "../dicom/dict.js";
import type { Association } from "./association.js";
import type { ContextResult, ProposedContext } from "./pdu.js";
import type { ScpHandlers, StoreResult } from "./scp.js";
import { negotiateContexts } from "./server.js";
import {
  discard,
  FileReceiver,
  placeFile,
  type InstanceFileSink,
  type ReceivedInstance,
} from "./storage.js";
import type { Logger } from "./logger.js";
import type { DecompressMode } from "../codec/index.js";
import { syntaxName } from "../dicom/syntax.js";

let storage: Set<string> | undefined;

/** Storage SOP classes, unknown and private classes, and Verification; not other known services. */
export function isStorageAbstractSyntax(uid: string): boolean {
  storage ??= new Set(storageSopClasses());
  if (uid === SopClass.Verification) return true;
  if (storage.has(uid)) return true;
  return uidType(uid) === undefined;
}

/** Transfer syntax preference for incoming data. */
export type SyntaxPreference = "sender" | "little" | "big" | "implicit";

export function chooseSyntax(offered: string[], pref: SyntaxPreference): string | undefined {
  const {
    ExplicitVRLittleEndian: LE,
    ExplicitVRBigEndian: BE,
    ImplicitVRLittleEndian: IM,
  } = TransferSyntax;
  switch (pref) {
    case "implicit":
      return offered.includes(IM) ? IM : undefined;
    case "little":
      return [LE, ...offered].find((t) => offered.includes(t));
    case "big":
      return [BE, LE, ...offered].find((t) => offered.includes(t));
    default:
      // The sender lists the file's own syntax first: taking it avoids any conversion.
      return offered[0];
  }
}

/** Results for the contexts of an association request to a storage service. */
export function storageContexts(
  proposed: ProposedContext[],
  pref: SyntaxPreference = "sender",
  extra?: (abstractSyntax: string) => boolean,
): ContextResult[] {
  return negotiateContexts(proposed, (abstractSyntax, offered) => {
    if (!isStorageAbstractSyntax(abstractSyntax) && !extra?.(abstractSyntax)) return undefined;
    const ts = chooseSyntax(offered, abstractSyntax === SopClass.Verification ? "little" : pref);
    return ts ? [ts] : [];
  });
}

export interface StoredInstance extends ReceivedInstance {
  /** Final path. */
  path: string;
  /** An existing file of the same instance was replaced. */
  replaced: boolean;
}

export interface StoreServiceOptions {
  tmpDir: string;
  fsync?: boolean;
  /** Receive but keep nothing. */
  ignore?: boolean;
  /** Decode what was received before placing it (`--decompress`, `+te`); a failure fails the C-STORE. */
  decompress?: DecompressMode;
  /** Absolute target path for a received instance (may throw: the store fails). */
  target(inst: ReceivedInstance, assoc: Association): string;
  /** Called once the file is in place, before the response is sent. */
  stored?(inst: StoredInstance, assoc: Association): Promise<void> | void;
  log?: Logger;
}

function failureStatus(e: unknown): number {
  const code = (e as NodeJS.ErrnoException)?.code;
  return code === "ENOSPC" ||
    code === "EDQUOT" ||
    code === "EFBIG" ||
    code === "EMFILE" ||
    code === "ENFILE"
    ? 0xa700
    : 0xc000;
}

/**
 * The data set must be the instance the command announces (DCMTK storescp
 * answers 0xA900, "data set does not match SOP class", otherwise): a file
 * is named, and its meta header written, from the command's UIDs.
 */
function commandMismatch(inst: ReceivedInstance): string | undefined {
  const cls = inst.head.string(Tags.SOPClassUID);
  const uid = inst.head.string(Tags.SOPInstanceUID);
  if (cls !== undefined && cls !== inst.sopClassUid)
    return `the data set's SOP Class UID ${cls} differs from the command's ${inst.sopClassUid}`;
  if (uid !== undefined && uid !== inst.sopInstanceUid)
    return `the data set's SOP Instance UID ${uid} differs from the command's ${inst.sopInstanceUid}`;
  return undefined;
}

/**
 * A received file decoded in place (temporary file and rename, so the
 * file to be placed is whole); the codec module is imported only here.
 */
async function decodeReceived(
  inst: ReceivedInstance,
  mode: DecompressMode,
  fsync: boolean,
  log?: Logger,
): Promise<ReceivedInstance> {
  const { decompressFile } = await import("../codec/index.js");
  const d = await decompressFile(inst.tmpPath, { mode, fsync });
  if (!d) return inst;
  log?.info(
    `decoded ${inst.sopInstanceUid}: ${syntaxName(d.from)} -> ${syntaxName(d.transferSyntax)}${d.lossy ? " (lossy source)" : ""}`,
  );
  const bytes = d.parts.reduce((n, b) => n + b.length, 0);
  return { ...inst, transferSyntax: d.transferSyntax, bytes };
}

/** The `store` handlers for `attachScp`. */
export function storeService(
  o: StoreServiceOptions,
): NonNullable<ScpHandlers["store"]> & { receiver: FileReceiver } {
  const receiver = new FileReceiver({ tmpDir: o.tmpDir, fsync: o.fsync });
  return {
    receiver,
    open(cmd, ctx, assoc) {
      if (o.ignore) return new Writable({ write: (_c, _e, cb) => cb() });
      return receiver.open(cmd, ctx, assoc);
    },
    async finish(req): Promise<StoreResult> {
      if (o.ignore) return { status: 0 };
      const sink = req.sink as InstanceFileSink;
      if (req.error) {
        await discard(sink.tmpPath);
        o.log?.error(
          `storing ${req.command.affectedSopInstanceUid ?? "?"} failed: ${req.error.message}`,
        );
        return { status: failureStatus(req.error), comment: req.error.message };
      }
      let inst: ReceivedInstance;
      let target: string;
      try {
        inst = receiver.describe(sink, req.command, req.context, req.assoc);
        const mismatch = commandMismatch(inst);
        if (mismatch) {
          await discard(sink.tmpPath);
          o.log?.error(`not storing ${inst.sopInstanceUid}: ${mismatch}`);
          return { status: 0xa900, comment: mismatch };
        }
        target = o.target(inst, req.assoc);
      } catch (e) {
        await discard(sink.tmpPath);
        o.log?.error(
          `cannot store ${req.command.affectedSopInstanceUid ?? "?"}: ${(e as Error).message}`,
        );
        return { status: 0xc000, comment: (e as Error).message };
      }
      if (o.decompress) {
        try {
          inst = await decodeReceived(inst, o.decompress, o.fsync ?? false, o.log);
        } catch (e) {
          await discard(inst.tmpPath);
          o.log?.error(`cannot decode ${inst.sopInstanceUid}: ${(e as Error).message}`);
          return { status: failureStatus(e), comment: (e as Error).message };
        }
      }
      let placed: { path: string; replaced: boolean; renamed: boolean };
      try {
        placed = await placeFile(inst.tmpPath, target, inst.sopInstanceUid);
      } catch (e) {
        await discard(inst.tmpPath);
        o.log?.error(`cannot store ${target}: ${(e as Error).message}`);
        return { status: failureStatus(e), comment: (e as Error).message };
      }
      if (placed.replaced) o.log?.warn(`DICOM file already exists, overwriting: ${placed.path}`);
      if (placed.renamed) o.log?.warn(`${target} holds another instance; stored as ${placed.path}`);
      o.log?.info(`storing DICOM file: ${placed.path}`);
      await o.stored?.({ ...inst, path: placed.path, replaced: placed.replaced }, req.assoc);
      return { status: 0 };
    },
  };
}
