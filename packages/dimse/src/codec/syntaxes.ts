/** The encapsulated transfer syntaxes `codec/` decodes (no decoder loaded by importing this). */
import { TransferSyntax } from "../dicom/syntax.js";

export type DecoderKind = "jpeg" | "jpegls" | "j2k" | "htj2k" | "rle";

export interface Codec {
  kind: DecoderKind;
  /** Lossy by definition (JPEG 2000 and HTJ2K: when the wavelet is irreversible). */
  lossy: "always" | "never" | "wavelet";
  /** (0028,2114) for a lossy source. */
  method?: string;
}

/** The transfer syntaxes we decode, with their decoder. */
export const CODECS: Readonly<Record<string, Codec>> = {
  [TransferSyntax.JPEGBaseline]: { kind: "jpeg", lossy: "always", method: "ISO_10918_1" },
  [TransferSyntax.JPEGExtended]: { kind: "jpeg", lossy: "always", method: "ISO_10918_1" },
  [TransferSyntax.JPEGLossless]: { kind: "jpeg", lossy: "never" },
  [TransferSyntax.JPEGLosslessSV1]: { kind: "jpeg", lossy: "never" },
  [TransferSyntax.JPEGLSLossless]: { kind: "jpegls", lossy: "never" },
  [TransferSyntax.JPEGLSNearLossless]: { kind: "jpegls", lossy: "always", method: "ISO_14495_1" },
  [TransferSyntax.JPEG2000Lossless]: { kind: "j2k", lossy: "never" },
  [TransferSyntax.JPEG2000]: { kind: "j2k", lossy: "wavelet", method: "ISO_15444_1" },
  [TransferSyntax.HTJ2KLossless]: { kind: "htj2k", lossy: "never" },
  [TransferSyntax.HTJ2KLosslessRPCL]: { kind: "htj2k", lossy: "never" },
  [TransferSyntax.HTJ2K]: { kind: "htj2k", lossy: "wavelet", method: "ISO_15444_15" },
  [TransferSyntax.RLELossless]: { kind: "rle", lossy: "never" },
};

/** An encapsulated syntax with a decoder here. */
export function decodableSyntax(uid: string): boolean {
  return Object.hasOwn(CODECS, uid);
}
