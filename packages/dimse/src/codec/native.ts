/**
 * The WebAssembly decoders of dcmjs-codecs (IJG libjpeg 8/12/16-bit with
 * the lossless patch, CharLS, OpenJPEG, OpenJPH in one module shipped in
 * the npm package), loaded on first use only: a file in an uncompressed,
 * deflated or RLE syntax never loads it.
 */
import { createRequire } from "node:module";
import type { FrameInfo } from "../dicom/pixels.js";
import { DecodeError } from "./frames.js";

export type NativeKind = "jpeg" | "jpegls" | "j2k" | "htj2k";

/** What a native decoder made of a frame. */
export interface NativeFrame {
  pixels: Buffer;
  photometricInterpretation: string;
  planarConfiguration: number;
  bitsAllocated: number;
  samplesPerPixel: number;
}

interface CodecContext {
  getDecodedBuffer(): Uint8Array | undefined;
  getPhotometricInterpretation(): string | undefined;
  getPlanarConfiguration(): number | undefined;
  getBitsAllocated(): number | undefined;
  getSamplesPerPixel(): number | undefined;
}
interface CodecsModule {
  Context: new (attrs: Record<string, unknown>) => CodecContext;
  NativeCodecs: {
    initializeAsync(o: Record<string, unknown>): Promise<void>;
    decodeJpeg(c: CodecContext, p?: Record<string, unknown>): CodecContext;
    decodeJpegLs(c: CodecContext, p?: Record<string, unknown>): CodecContext;
    decodeJpeg2000(c: CodecContext, p?: Record<string, unknown>): CodecContext;
    decodeHtJpeg2000(c: CodecContext, p?: Record<string, unknown>): CodecContext;
  };
  log: { setLevel(level: string): void };
}

let loading: Promise<CodecsModule> | undefined;

/** Load and initialise the WebAssembly module once (about 0.5 s), from the package's own files. */
export function loadNative(): Promise<CodecsModule> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const mod = (await import("dcmjs-codecs")) as unknown as CodecsModule & {
      default?: CodecsModule;
    };
    const m = mod.default ?? mod;
    // Its logger writes informational lines to stdout: stdout is for data.
    m.log.setLevel("silent");
    await m.NativeCodecs.initializeAsync({
      webAssemblyModulePathOrUrl: require.resolve("dcmjs-codecs/build/dcmjs-native-codecs.wasm"),
      logCodecsInfo: false,
      logCodecsTrace: false,
    });
    return m;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

/** Decode one frame with a native decoder. */
export async function decodeNative(
  kind: NativeKind,
  frame: Buffer,
  f: FrameInfo,
  index: number,
): Promise<NativeFrame> {
  const m = await loadNative();
  const ctx = new m.Context({
    width: f.columns,
    height: f.rows,
    bitsAllocated: f.bitsAllocated,
    bitsStored: f.bitsStored,
    samplesPerPixel: f.samplesPerPixel,
    pixelRepresentation: f.pixelRepresentation,
    planarConfiguration: 0,
    photometricInterpretation: f.photometricInterpretation,
    encodedBuffer: new Uint8Array(frame.buffer, frame.byteOffset, frame.length),
  });
  let out: CodecContext;
  try {
    switch (kind) {
      case "jpeg":
        out = m.NativeCodecs.decodeJpeg(ctx, {
          convertColorspaceToRgb: f.photometricInterpretation.startsWith("YBR"),
        });
        break;
      case "jpegls":
        out = m.NativeCodecs.decodeJpegLs(ctx);
        break;
      case "j2k":
        out = m.NativeCodecs.decodeJpeg2000(ctx);
        break;
      case "htj2k":
        out = m.NativeCodecs.decodeHtJpeg2000(ctx);
        break;
    }
  } catch (e) {
    throw new DecodeError(`frame ${index + 1}: ${kind} decoder: ${errorText(e)}`);
  }
  const px = out.getDecodedBuffer();
  if (!px || px.length === 0)
    throw new DecodeError(`frame ${index + 1}: ${kind} decoder gave no pixels`);
  return {
    pixels: Buffer.from(px.buffer, px.byteOffset, px.length),
    photometricInterpretation: out.getPhotometricInterpretation() ?? f.photometricInterpretation,
    planarConfiguration: out.getPlanarConfiguration() ?? 0,
    bitsAllocated: out.getBitsAllocated() ?? f.bitsAllocated,
    samplesPerPixel: out.getSamplesPerPixel() ?? f.samplesPerPixel,
  };
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
