// DIMSE command sets (src/net/command.ts): PS3.7 section 9.3 and annex E, group 0000 in
// implicit VR little endian, decoded from bytes laid out by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CommandError, decodeCommand, encodeCommand } from "../src/net/index.js";

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
