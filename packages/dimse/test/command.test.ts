// DIMSE command sets (src/net/command.ts), decoded and encoded, and the Part 10 prefix written
// before every received data set (src/dicom/part10.ts): the bytes PS3.7 §9.3/Annex E and
// PS3.10 §7.1 prescribe, spelled out here by hand.
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
import { type Command, CommandError, decodeCommand, encodeCommand } from "../src/net/command.js";

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

/** One command element: tag (0000,elem), 32-bit length, value. */
function el(elem: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0x0000, 0);
  h.writeUInt16LE(elem, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
const us = (n: number) => Buffer.from([n & 0xff, n >> 8]);

test("a C-FIND-RSP command set: UI padded with NUL, US, AT, LO with spaces, data set present", () => {
  const bytes = Buffer.concat([
    el(0x0000, Buffer.from([0, 0, 0, 0])),
    el(0x0002, Buffer.from("1.2.840.10008.5.1.4.1.2.2.1\0", "latin1")),
    el(0x0100, us(0x8020)),
    el(0x0120, us(7)),
    el(0x0800, us(0x0000)),
    el(0x0900, us(0xff00)),
    el(0x0901, Buffer.from([0x10, 0x00, 0x10, 0x00, 0x08, 0x00, 0x52, 0x00])),
    el(0x0902, Buffer.from("  cap reached \0", "latin1")),
  ]);
  assert.deepEqual(decodeCommand(bytes), {
    hasDataset: true,
    affectedSopClassUid: "1.2.840.10008.5.1.4.1.2.2.1",
    commandField: 0x8020,
    messageIdBeingRespondedTo: 7,
    status: 0xff00,
    offendingElement: [0x00100010, 0x00080052],
    errorComment: "cap reached",
  });
});

test("no data set (0x0101) and elements of other groups are skipped", () => {
  const other = Buffer.alloc(10);
  other.writeUInt16LE(0x0008, 0);
  other.writeUInt16LE(0x0018, 2);
  other.writeUInt32LE(2, 4);
  const cmd = decodeCommand(
    Buffer.concat([el(0x0100, us(0x8030)), el(0x0800, us(0x0101)), other, el(0x0900, us(0))]),
  );
  assert.deepEqual(cmd, { hasDataset: false, commandField: 0x8030, status: 0 });
});

test("a length past the end is a CommandError, a 32-bit length with its top bit set too", () => {
  const cut = el(0x0002, Buffer.from("1.2.3\0", "latin1")).subarray(0, 10);
  assert.throws(() => decodeCommand(Buffer.concat([el(0x0100, us(0x8020)), cut])), CommandError);
  const huge = Buffer.from([0x00, 0x00, 0x02, 0x00, 0xf0, 0xff, 0xff, 0xff, 0x31, 0x00]);
  assert.throws(() => decodeCommand(Buffer.concat([el(0x0100, us(0x8020)), huge])), CommandError);
  assert.throws(() => decodeCommand(el(0x0900, us(0))), /without Command Field/);
});

test("what encodeCommand writes decodes to the same command", () => {
  const cmd = {
    commandField: 0x0020,
    messageId: 0xfffe,
    affectedSopClassUid: "1.2.840.10008.5.1.4.1.2.2.1",
    priority: 2,
    hasDataset: true,
    moveDestination: "STORESCP",
  };
  assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
});
