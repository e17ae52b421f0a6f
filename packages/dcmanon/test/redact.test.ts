// Pixel redaction (--redact, --on-burned-in redact, --clean-pixel-data): CTP DicomPixelAnonymizer
// scripts parsed and matched; images with a burned-in banner (test/fixtures.py, pydicom) run through
// the real bin; every output pixel checked by pydicom against the input (0 inside the regions,
// unchanged outside, the regions computed in Python from CTP's convention), outputs read by DCMTK.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Dataset, numberElement, textElement } from "@dicom-pipes/dimse/dicom";
import { ndjson, runBin } from "@dicom-pipes/test-support/bins";
import { matchSignature, parseRedactScript, regionRect } from "../src/redact.js";
import { dcm2json, files, makeFixtures, PY, type Json } from "./helpers.js";

let root = "";

// The banner of the fixtures is rows 1-6, columns 2-29: CTP's (2,1,27,5) blanks columns 2 to 29
// and rows 1 to 6, both ends included; (-8,-4,8,4) is the bottom-right corner.
const SCRIPT = `Burned-in name banners: free text, as in CTP's library, is ignored

ACME ultrasound
{ Modality.equals("US") *
  Manufacturer.containsIgnoreCase("acme") // the vendor, whatever its case
}
  (2,1,27,5)
  (-8,-4,8,4)

// Secondary captures of 32 rows; Rows is US: its value is read as a decimal number
{ [0008,0060].equals("OT") * ([0028,0010].equals("32") + Rows.equals("999")) * !ImageType.contains("SKIPME") }
  (2,1,27,5)
`;
const US_REGIONS = [
  [2, 1, 27, 5],
  [-8, -4, 8, 4],
];
const SC_REGIONS = [[2, 1, 27, 5]];

/**
 * pydicom compares the output's pixels with the input's: every sample of every frame is 0 where a
 * region covers it (CTP: columns x..x+w, rows y..y+h, x and y below 0 from the right and bottom
 * edges) and unchanged elsewhere. Prints the counts.
 */
const CHECK = `
import sys, json, pydicom
i = pydicom.dcmread(sys.argv[1]); o = pydicom.dcmread(sys.argv[2]); regions = json.loads(sys.argv[3])
rows, cols, spp = i.Rows, i.Columns, i.SamplesPerPixel
frames = int(getattr(i, "NumberOfFrames", 1) or 1)
planar = getattr(i, "PlanarConfiguration", 0) if spp > 1 else 0
w = i.BitsAllocated // 8
assert (o.Rows, o.Columns, o.SamplesPerPixel, o.BitsAllocated) == (rows, cols, spp, i.BitsAllocated)
def covered(r, c):
    for x, y, rw, rh in regions:
        x0 = max(0, x + cols if x < 0 else x); y0 = max(0, y + rows if y < 0 else y)
        if x0 <= c <= x0 + rw and y0 <= r <= y0 + rh: return True
    return False
ip, op = i.PixelData, o.PixelData
assert len(op) == len(ip), (len(op), len(ip))
inside = outside = 0
for f in range(frames):
    for s in range(spp):
        for r in range(rows):
            for c in range(cols):
                k = ((f * spp + s) * rows * cols + r * cols + c) * w if planar else (((f * rows + r) * cols + c) * spp + s) * w
                got = int.from_bytes(op[k:k + w], "little"); was = int.from_bytes(ip[k:k + w], "little")
                if covered(r, c):
                    assert got == 0, ("inside", f, s, r, c, got); inside += 1
                else:
                    assert got == was, ("outside", f, s, r, c, got, was); outside += 1
print(json.dumps({"inside": inside, "outside": outside}))
`;

function checkPixels(input: string, output: string, regions: number[][]) {
  const r = spawnSync(PY, ["-c", CHECK, input, output, JSON.stringify(regions)], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, `${output}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { inside: number; outside: number };
}

/** DCMTK's dcmdump reads the file without a warning; pydicom reads it with warnings as errors. */
function readsCleanly(path: string) {
  const d = spawnSync("dcmdump", ["-E", path], { encoding: "utf8" });
  assert.equal(d.status, 0, `dcmdump ${path}: ${d.stderr}`);
  assert.equal(d.stderr, "", `dcmdump ${path}`);
  const p = spawnSync(
    PY,
    ["-W", "error", "-c", "import sys, pydicom; pydicom.dcmread(sys.argv[1]).PixelData", path],
    {
      encoding: "utf8",
    },
  );
  assert.equal(p.status, 0, `pydicom ${path}: ${p.stderr}`);
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function codes(ds: Json): string[] {
  return ((ds["00120064"]?.Value ?? []) as Json[]).map((it) => String(it["00080100"]?.Value?.[0]));
}

/** Redact the BurnedInAnnotation YES images with the banner script. */
const REDACT = ["--redact", "banner.script", "--on-burned-in", "redact"];

async function anon(args: string[]) {
  return runBin("dcmanon", ["--secret-file", "k1", ...args], { cwd: root });
}

/** The results by input file name. */
function byName(stdout: string): Map<string, Record<string, unknown>> {
  return new Map(ndjson(stdout).map((r) => [(r.in as string).split("/").pop()!, r]));
}

before(() => {
  root = makeFixtures("dcmanon-redact-");
  writeFileSync(join(root, "k1"), "k1-0123456789abcdef0123456789abcdef-secret");
  writeFileSync(join(root, "banner.script"), SCRIPT);
});

test("script: CTP's precedence (! then * then +), parentheses, keywords, [gggg,eeee], numbers of US values, the file meta; the first matching signature wins", () => {
  const s = parseRedactScript(
    `{ Modality.equals("CT") + Modality.equals("US") * Rows.isGreaterThan("500") }
     (0,0,1,1)
     { !Modality.equals("CT") * (Manufacturer.startsWithIgnoreCase("ge") + [0002,0013].contains("MINDRAY")) }
     (0,0,2,2)
     { SeriesDescription.matches("Dose( Report)?") * Rows.isLessThan("1e9") }
     (0,0,3,3)
     { true // a comment may hold "quotes" and a } brace
     } (0,0,4,4)`,
    "t.script",
  );
  const ds = (o: { modality: string; rows: number; maker?: string; desc?: string }) => {
    const d = new Dataset();
    d.set(textElement(0x00080060, "CS", o.modality));
    if (o.maker) d.set(textElement(0x00080070, "LO", o.maker));
    if (o.desc) d.set(textElement(0x0008103e, "LO", o.desc));
    d.set(numberElement(0x00280010, "US", o.rows));
    return d;
  };
  const meta = new Dataset([textElement(0x00020013, "SH", "MINDRAY_1")]);
  const first = (d: Dataset, m = new Dataset()) => matchSignature(s, d, m, true)?.regions[0]?.w;
  // + binds less than *: CT alone is enough; US needs more than 500 rows.
  assert.equal(first(ds({ modality: "CT", rows: 10 })), 1);
  assert.equal(first(ds({ modality: "US", rows: 600 })), 1);
  // Not the first signature: a later one matches.
  assert.equal(first(ds({ modality: "US", rows: 10, maker: "GE Healthcare" })), 2);
  assert.equal(first(ds({ modality: "US", rows: 10 }), meta), 2);
  // matches() is a whole-value regular expression; isLessThan reads digits only ("1e9" is 19).
  assert.equal(first(ds({ modality: "CT2", rows: 10, desc: "Dose Report" })), 3);
  assert.equal(first(ds({ modality: "CT2", rows: 20, desc: "Dose Report" })), 4);
  assert.equal(first(ds({ modality: "CT2", rows: 10, desc: "Dose Report 2" })), 4);
});

test("regions: CTP's convention, x and y below 0 from the right and bottom edges, both ends included, cut at the image's edge", () => {
  const rect = (x: number, y: number, w: number, h: number) =>
    regionRect({ x, y, w, h, line: 1 }, 32, 40);
  assert.deepEqual(rect(2, 1, 27, 5), { left: 2, top: 1, right: 30, bottom: 7 });
  assert.deepEqual(rect(-8, -4, 8, 4), { left: 32, top: 28, right: 40, bottom: 32 });
  assert.deepEqual(rect(35, 30, 100, 100), { left: 35, top: 30, right: 40, bottom: 32 });
  assert.deepEqual(rect(-100, 0, 0, 0), { left: 0, top: 0, right: 1, bottom: 1 });
  const outside = rect(50, 40, 5, 5);
  assert.ok(outside.left >= outside.right && outside.top >= outside.bottom);
});

test("--redact: a script that does not parse is exit 2 naming FILE:LINE and what was expected", async () => {
  const cases: Array<[string, RegExp]> = [
    [
      `{ Modality.equals("US") }\n  (0,0,10)\n`,
      /bad\.script:2: expected a region \(x,y,w,h\): four integers/,
    ],
    [
      `// c\n{ Modality.equals("US") *\n  Modality.sounds("US") }\n(0,0,1,1)`,
      /bad\.script:3: "sounds" is not a signature method/,
    ],
    [
      `{ Modality.equals("US") }\n(0,0,1,1)\n{ Modalty.equals("US") }\n(0,0,1,1)`,
      /bad\.script:3: "Modalty" is not a DICOM keyword/,
    ],
    [
      `{ Modality.equals(US) }\n(0,0,1,1)`,
      /bad\.script:1: expected a quoted text and \) after Modality\.equals\(/,
    ],
    [`{ Modality.equals("US")\n(0,0,1,1)\n`, /bad\.script:1: expected } to close this signature/],
    [
      `{ Modality.equals("US") }\n\n{ Modality.equals("CT") }\n(0,0,1,1)`,
      /bad\.script:1: expected at least one region/,
    ],
    [
      `(0,0,1,1)\n{ Modality.equals("US") }\n(0,0,1,1)`,
      /bad\.script:1: expected a signature \{ \.\.\. \} before the first region/,
    ],
    [
      `{ Modality.equals("US") }\n 0,0,10,10\n(0,0,1,1)`,
      /bad\.script:2: expected a region in parentheses/,
    ],
    [`{ Modality.equals("US") * }\n(0,0,1,1)`, /bad\.script:1: expected ELEMENT\.method\("text"\)/],
    [
      `{ SeriesDescription.matches("(") }\n(0,0,1,1)`,
      /bad\.script:1: SeriesDescription\.matches: not a regular expression/,
    ],
    [`// nothing\n`, /bad\.script:2: expected at least one signature/],
    // Bounded, not a stack overflow (while parsing, or while matching every file).
    [
      `{ ${"(".repeat(100)}Modality.equals("US")${")".repeat(100)} }\n(0,0,1,1)`,
      /bad\.script:1: signature nested more than 64 deep/,
    ],
    [`{ ${"!".repeat(20000)}Modality.equals("US") }\n(0,0,1,1)`, /nested more than 64 deep/],
    [
      `{ ${Array(1001).fill('Modality.equals("US")').join(" * ")} }\n(0,0,1,1)`,
      /bad\.script:1: signature of more than 1000 tests/,
    ],
  ];
  for (const [text, re] of cases) {
    writeFileSync(join(root, "bad.script"), text);
    const r = await anon([
      "--redact",
      "bad.script",
      "--on-burned-in",
      "redact",
      "-o",
      "x",
      "R/us8.dcm",
    ]);
    assert.equal(r.code, 2, `${text}\n${r.stderr}`);
    assert.match(r.stderr, /^E: dcmanon: --redact /m);
    assert.match(r.stderr, re, text);
    assert.equal(r.stdout, "");
  }
  for (const [args, re] of [
    [
      ["--redact", "banner.script"],
      /--redact FILE needs --on-burned-in redact .* or --clean-pixel-data/,
    ],
    [["--on-burned-in", "redact"], /--on-burned-in redact needs --redact FILE/],
    [["--clean-pixel-data"], /--clean-pixel-data needs --redact FILE/],
    [["--redact", "none.script", "--clean-pixel-data"], /--redact none\.script: no such file/],
  ] as const) {
    const r = await anon([...args, "-o", "x", "R/us8.dcm"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
  }
});

test("--on-burned-in redact: BurnedInAnnotation YES images a signature matches are redacted (8-bit, RGB both planar configurations, 3 frames), NO + 113101 only for them, one no signature matches quarantined; inputs unchanged", async () => {
  const inputs = files(join(root, "R"));
  const before = inputs.map(sha256);
  const r = await anon([...REDACT, "-o", "out-bi", "R"]);
  assert.equal(r.code, 0, r.stderr);
  const res = byName(r.stdout);
  assert.equal(res.get("us-other.dcm")!.status, "quarantined");
  assert.match(
    res.get("us-other.dcm")!.reason as string,
    /BurnedInAnnotation is YES .* and no --redact signature matches/,
  );
  for (const name of ["us8.dcm", "us-rgb.dcm", "us-rgb-planar.dcm", "us-multiframe.dcm"]) {
    const x = res.get(name)!;
    assert.equal(x.status, "ok", name);
    assert.equal((x.actions as Record<string, number>).redacted, 2, name);
    assert.ok((x.options as string[]).includes("113101"), name);
    const out = join(root, x.out as string);
    readsCleanly(out);
    const n = checkPixels(join(root, "R", name), out, US_REGIONS);
    // Banner (28 × 6) and corner (8 × 4), per sample and frame.
    const factor = (name.includes("rgb") ? 3 : 1) * (name.includes("multiframe") ? 3 : 1);
    assert.equal(n.inside, (28 * 6 + 8 * 4) * factor, name);
    const j = dcm2json(out);
    assert.deepEqual(j["00280301"]?.Value, ["NO"], name);
    assert.deepEqual(codes(j), ["113100", "113101"], name);
    assert.ok(((j["00120063"]?.Value ?? []) as string[]).includes("Clean Pixel Data Option"), name);
  }
  // Without BurnedInAnnotation YES nothing is redacted or claimed: pixels as they were.
  for (const name of ["sc16.dcm", "sc-no.dcm"]) {
    const x = res.get(name)!;
    assert.equal(x.status, "ok", name);
    assert.equal((x.actions as Record<string, number>).redacted, undefined, name);
    const out = join(root, x.out as string);
    checkPixels(join(root, "R", name), out, []);
    assert.deepEqual(codes(dcm2json(out)), ["113100"], name);
  }
  assert.deepEqual(inputs.map(sha256), before, "inputs are never modified");
});

test("--clean-pixel-data: every image a signature matches is redacted (16 bits, no BurnedInAnnotation), an image already NO is left as it is (no 113101: nothing cleaned) and loses its icon, YES without a rule quarantined", async () => {
  const r = await anon([
    "--redact",
    "banner.script",
    "--clean-pixel-data",
    "--audit-log",
    "audit.ndjson",
    "-o",
    "out-clean",
    "R",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = byName(r.stdout);
  const sc16 = res.get("sc16.dcm")!;
  assert.equal((sc16.actions as Record<string, number>).redacted, 1);
  const out16 = join(root, sc16.out as string);
  readsCleanly(out16);
  assert.equal(checkPixels(join(root, "R/sc16.dcm"), out16, SC_REGIONS).inside, 28 * 6);
  const j16 = dcm2json(out16);
  assert.deepEqual(j16["00280301"]?.Value, ["NO"]);
  assert.deepEqual(codes(j16), ["113100", "113101"]);

  const no = res.get("sc-no.dcm")!;
  assert.equal((no.actions as Record<string, number>).redacted, undefined);
  const outNo = join(root, no.out as string);
  checkPixels(join(root, "R/sc-no.dcm"), outNo, []);
  const jNo = dcm2json(outNo);
  assert.deepEqual(jNo["00280301"]?.Value, ["NO"]);
  assert.deepEqual(codes(jNo), ["113100"]);
  assert.equal(jNo["00880200"], undefined, "Icon Image Sequence removed");

  assert.equal(res.get("us-other.dcm")!.status, "quarantined");
  // The audit log counts the redacted regions, and holds nothing identifying.
  const audit = readFileSync(join(root, "audit.ndjson"), "utf8");
  const lines = ndjson(audit);
  const redacted = lines.filter((l) => (l.actions as Record<string, number> | undefined)?.redacted);
  assert.equal(redacted.length, 5);
  for (const word of ["Roe", "PID7788990", "ACME Medical"]) assert.ok(!audit.includes(word), word);
});

test("--drop-identifiable --clean-pixel-data: the images a signature matches are redacted and kept, the others skipped as before", async () => {
  const r = await anon([
    "--redact",
    "banner.script",
    "--clean-pixel-data",
    "--drop-identifiable",
    "-o",
    "out-drop",
    "R",
    "F/extras/screen-save.dcm",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const res = byName(r.stdout);
  for (const name of ["us8.dcm", "us-multiframe.dcm", "sc16.dcm"]) {
    assert.equal(res.get(name)!.status, "ok", name);
    assert.ok((res.get(name)!.actions as Record<string, number>).redacted, name);
  }
  assert.equal(res.get("us-other.dcm")!.status, "skipped");
  assert.match(
    res.get("us-other.dcm")!.reason as string,
    /drop-identifiable: BurnedInAnnotation YES/,
  );
  assert.equal(res.get("screen-save.dcm")!.status, "skipped");
  assert.match(res.get("screen-save.dcm")!.reason as string, /SCREEN SAVE/);
});

test("--redact: compressed pixel data is quarantined with the reason, and redacted once decoded with --decompress (RLE written by DCMTK's dcmcrle)", async () => {
  const c = spawnSync("dcmcrle", [join(root, "R/us8.dcm"), join(root, "us8-rle.dcm")], {
    encoding: "utf8",
  });
  assert.equal(c.status, 0, c.stderr);
  const q = await anon([...REDACT, "-o", "out-c", "us8-rle.dcm"]);
  assert.equal(q.code, 0, q.stderr);
  const [rq] = ndjson(q.stdout);
  assert.equal(rq!.status, "quarantined");
  assert.match(rq!.reason as string, /pixel data is compressed \(RLE Lossless\).*add --decompress/);
  const d = await anon([...REDACT, "--decompress", "-o", "out-d", "us8-rle.dcm"]);
  assert.equal(d.code, 0, d.stderr);
  const [rd] = ndjson(d.stdout);
  assert.equal(rd!.status, "ok", d.stdout);
  const out = join(root, rd!.out as string);
  readsCleanly(out);
  assert.equal(dcm2json(out)["00280301"]?.Value?.[0], "NO");
  // RLE is lossless: the decoded pixels are the uncompressed fixture's.
  assert.equal(checkPixels(join(root, "R/us8.dcm"), out, US_REGIONS).inside, 28 * 6 + 8 * 4);
});

test("--redact --decompress: JPEG Baseline colour (YBR_FULL_422, by DCMTK's dcmcjpeg +eb) decoded to RGB, the banner black in every sample, marked lossy", async () => {
  const c = spawnSync("dcmcjpeg", ["+eb", join(root, "R/us-rgb.dcm"), join(root, "rgb-jpeg.dcm")], {
    encoding: "utf8",
  });
  assert.equal(c.status, 0, c.stderr);
  const q = await anon([...REDACT, "-o", "out-j", "rgb-jpeg.dcm"]);
  assert.match(ndjson(q.stdout)[0]!.reason as string, /compressed \(JPEG Baseline\)/);
  const d = await anon([...REDACT, "--decompress", "-o", "out-j", "rgb-jpeg.dcm"]);
  assert.equal(d.code, 0, d.stderr);
  const [rd] = ndjson(d.stdout);
  assert.equal(rd!.status, "ok", d.stdout);
  const out = join(root, rd!.out as string);
  readsCleanly(out);
  // Lossy: only the banner's samples are known (0); pydicom reads them from the decoded RGB pixels.
  const p = spawnSync(
    PY,
    [
      "-c",
      "import sys, pydicom; d = pydicom.dcmread(sys.argv[1]); p = d.PixelData; c = d.Columns\n" +
        "print(d.PhotometricInterpretation, d.LossyImageCompression, sorted({p[(r * c + x) * 3 + s] for r in range(1, 7) for x in range(2, 30) for s in range(3)}))",
      out,
    ],
    { encoding: "utf8" },
  );
  assert.equal(p.status, 0, p.stderr);
  assert.equal(p.stdout.trim(), "RGB 01 [0]");
});

test("--redact: the same outputs byte for byte with -j 1 and -j 2 (worker threads rebuild the script from the options)", async () => {
  const args = [...REDACT, "--clean-pixel-data"];
  const a = await anon([...args, "-j", "1", "-o", "j1", "R"]);
  const b = await anon([...args, "-j", "2", "-o", "j2", "R"]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const one = files(join(root, "j1")).map((p) => [p.slice(join(root, "j1").length), sha256(p)]);
  const two = files(join(root, "j2")).map((p) => [p.slice(join(root, "j2").length), sha256(p)]);
  assert.equal(one.length, 6);
  assert.deepEqual(two, one);
});

test("explain shows the regions that would be blanked, in pixels, and the signature that matched", async () => {
  const r = await anon(["explain", "R/us-multiframe.dcm", ...REDACT]);
  assert.equal(r.code, 0, r.stderr);
  const lines = ndjson(r.stdout).filter((l) => String(l.action).startsWith("redacted"));
  assert.deepEqual(
    lines.map((l) => [l.element, l.action]),
    [
      [
        "(7fe0,0010)",
        'redacted (2,1,27,5) (line 7): columns 2-29, rows 1-6 of 40 × 32, 3 frame(s); signature line 4: Modality.equals("US") * Manufacturer.containsIgnoreCase("acme")',
      ],
      [
        "(7fe0,0010)",
        'redacted (-8,-4,8,4) (line 8): columns 32-39, rows 28-31 of 40 × 32, 3 frame(s); signature line 4: Modality.equals("US") * Manufacturer.containsIgnoreCase("acme")',
      ],
    ],
  );
});

test("--redact: nothing blanked, nothing claimed: a signature whose regions all fall outside the image, and encapsulated pixel data in a native syntax (also with --decompress), are quarantined", async () => {
  writeFileSync(
    join(root, "outside.script"),
    `{ Modality.equals("US") }\n(5000,5000,1,1)\n(0,9000,10,10)\n`,
  );
  const o = await anon([
    "--redact",
    "outside.script",
    "--on-burned-in",
    "redact",
    "-o",
    "out-o",
    "R/us8.dcm",
  ]);
  assert.equal(o.code, 0, o.stderr);
  const [ro] = ndjson(o.stdout);
  assert.equal(ro!.status, "quarantined", o.stdout);
  assert.match(
    ro!.reason as string,
    /no region of the signature on line 1 falls inside the \d+ x \d+ image/,
  );
  // us8.dcm (Explicit VR Little Endian) with its pixels as one fragment of undefined length.
  const src = readFileSync(join(root, "R/us8.dcm"));
  const at = src.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
  assert.match(src.toString("latin1", at + 4, at + 6), /^O[BW]$/);
  const frame = src.subarray(at + 12, at + 12 + src.readUInt32LE(at + 8));
  const item = (b: Buffer) => {
    const h = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0, 0, 0, 0]);
    h.writeUInt32LE(b.length, 4);
    return Buffer.concat([h, b]);
  };
  writeFileSync(
    join(root, "us8-frag.dcm"),
    Buffer.concat([
      src.subarray(0, at),
      Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]),
      item(Buffer.alloc(0)),
      item(frame),
      Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]),
    ]),
  );
  for (const extra of [[], ["--decompress"]]) {
    const r = await anon([...REDACT, ...extra, "-o", `out-frag${extra.length}`, "us8-frag.dcm"]);
    assert.equal(r.code, 0, r.stderr);
    const [rr] = ndjson(r.stdout);
    assert.equal(rr!.status, "quarantined", `${extra}: ${r.stdout}`);
    assert.match(
      rr!.reason as string,
      /encapsulated Pixel Data \(7FE0,0010\) in a native transfer syntax/,
    );
  }
});
