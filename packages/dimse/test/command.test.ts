// DIMSE command sets (src/net/command.ts) and the Part 10 prefix written
// before every received data set (src/dicom/part10.ts): the bytes PS3.7
// §9.3/Annex E and PS3.10 §7.1 prescribe, spelled out here by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildPart10Prefix,
  Dataset,
  encodeDataset,
  IMPLEMENTATION_CLASS_UID,
  IMPLEMENTATION_VERSION_NAME,
  parsePart10Header,
  textElement,
  TransferSyntax,
} from "../src/dicom/index.js";
import { type Command, decodeCommand, encodeCommand } from "../src/net/command.js";

/** Bytes from hex text, spaces ignored. */
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
const ascii = (s: string) => Buffer.from(s, "latin1").toString("hex");

// Implicit VR Little Endian: tag (group, element), 4-byte length, value.
const CASES: Array<[name: string, cmd: Command, expected: string]> = [
  [
    "a C-ECHO-RSP is the group length, then each element in tag order, Data Set Type among them",
    {
      commandField: 0x8030,
      messageIdBeingRespondedTo: 7,
      affectedSopClassUid: "1.2.840.10008.1.1",
      status: 0,
      hasDataset: false,
    },
    `0000 0000 04000000 42000000
     0000 0200 12000000 ${ascii("1.2.840.10008.1.1")}00
     0000 0001 02000000 3080
     0000 2001 02000000 0700
     0000 0008 02000000 0101
     0000 0009 02000000 0000`,
  ],
  [
    "a C-ECHO-RQ, whose elements all precede Data Set Type, ends with it",
    {
      commandField: 0x0030,
      messageId: 1,
      affectedSopClassUid: "1.2.840.10008.1.1",
      hasDataset: false,
    },
    `0000 0000 04000000 38000000
     0000 0200 12000000 ${ascii("1.2.840.10008.1.1")}00
     0000 0001 02000000 3000
     0000 1001 02000000 0100
     0000 0008 02000000 0101`,
  ],
  [
    "texts are padded to even length (AE and LO with a space, UI with NUL); AT values are group, element",
    {
      commandField: 0x8021,
      messageIdBeingRespondedTo: 3,
      affectedSopClassUid: "1.2.3",
      status: 0xc000,
      offendingElement: [0x00100020, 0x7fe00010],
      errorComment: "odd",
      moveOriginatorAet: "MOVER",
      moveOriginatorMessageId: 9,
      hasDataset: true,
    },
    `0000 0000 04000000 6a000000
     0000 0200 06000000 ${ascii("1.2.3")}00
     0000 0001 02000000 2180
     0000 2001 02000000 0300
     0000 0008 02000000 0000
     0000 0009 02000000 00c0
     0000 0109 08000000 1000 2000 e07f 1000
     0000 0209 04000000 ${ascii("odd ")}
     0000 3010 06000000 ${ascii("MOVER ")}
     0000 3110 02000000 0900`,
  ],
];

for (const [name, cmd, expected] of CASES)
  test(name, () => {
    const bytes = encodeCommand(cmd);
    assert.equal(bytes.toString("hex"), hex(expected).toString("hex"));
    assert.deepEqual(decodeCommand(bytes), cmd, "decoded back");
  });

test("the Part 10 prefix: 128 zero bytes, DICM, and the meta group in Explicit VR Little Endian", () => {
  const o = {
    sopClassUID: "1.2.840.10008.5.1.4.1.1.7",
    sopInstanceUID: "1.2.3.4",
    transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
    sourceAet: "SENDER",
  };
  const b = buildPart10Prefix(o);
  assert.deepEqual(b.subarray(0, 128), Buffer.alloc(128));
  assert.equal(b.toString("latin1", 128, 132), "DICM");
  // (0002,0000) UL 4, then (0002,0001) OB with its reserved bytes and 4-byte length.
  assert.equal(b.subarray(132, 144).toString("hex"), `02000000554c0400${hexU32(b.length - 144)}`);
  assert.equal(b.subarray(144, 158).toString("hex"), "020001004f42000002000000" + "0001");
  const h = parsePart10Header(
    Buffer.concat([b, hex("08001600 5549 1a00"), Buffer.from(`${o.sopClassUID}\0`)]),
  );
  assert.equal(h.sopClassUID, o.sopClassUID);
  assert.equal(h.sopInstanceUID, o.sopInstanceUID);
  assert.equal(h.transferSyntax, o.transferSyntax);
  assert.equal(h.datasetOffset, b.length);
  // The same bytes as the general dataset encoder gives for these elements.
  const meta = new Dataset();
  meta.set({ tag: 0x00020001, vr: "OB", value: Buffer.from([0, 1]) });
  meta.set(textElement(0x00020002, "UI", o.sopClassUID));
  meta.set(textElement(0x00020003, "UI", o.sopInstanceUID));
  meta.set(textElement(0x00020010, "UI", o.transferSyntax));
  meta.set(textElement(0x00020012, "UI", IMPLEMENTATION_CLASS_UID));
  meta.set(textElement(0x00020013, "SH", IMPLEMENTATION_VERSION_NAME));
  meta.set(textElement(0x00020016, "AE", o.sourceAet));
  assert.deepEqual(b.subarray(144), encodeDataset(meta, TransferSyntax.ExplicitVRLittleEndian));
});

test("a meta value too long for a 16-bit length is still written (as the dataset encoder writes it)", () => {
  const b = buildPart10Prefix({
    sopClassUID: "1.2.3",
    sopInstanceUID: `1.${"2".repeat(70_000)}`,
    transferSyntax: TransferSyntax.ExplicitVRLittleEndian,
  });
  assert.equal(b.readUInt32LE(140), b.length - 144, "group length");
  assert.ok(b.length > 70_000);
});

function hexU32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b.toString("hex");
}
