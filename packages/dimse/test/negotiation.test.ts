// The negotiation part of an association (PS3.8 §7.1, §9.3.2-3): what the
// A-ASSOCIATE-RQ carries and what an A-ASSOCIATE-AC leaves accepted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IMPLEMENTATION_CLASS_UID } from "../src/dicom/uid.js";
import { Negotiation } from "../src/net/negotiation.js";
import { APPLICATION_CONTEXT } from "../src/net/pdu.js";

const CT = "1.2.840.10008.5.1.4.1.1.2";
const MR = "1.2.840.10008.5.1.4.1.1.4";
const IMPLICIT = "1.2.840.10008.1.2";
const EXPLICIT = "1.2.840.10008.1.2.1";

test("the A-ASSOCIATE-RQ: AE titles of at most 16 characters, our receive limit, implementation UID", () => {
  const n = new Negotiation(32768);
  const rq = n.propose({
    callingAet: "A-CALLING-AE-TITLE-TOO-LONG",
    calledAet: "PACS",
    contexts: [{ id: 1, abstractSyntax: CT, transferSyntaxes: [EXPLICIT, IMPLICIT] }],
    roles: [],
  });
  assert.equal(rq.callingAet, "A-CALLING-AE-TIT");
  assert.equal(rq.calledAet, "PACS");
  assert.equal(rq.maxPdu, 32768);
  assert.equal(rq.applicationContext, APPLICATION_CONTEXT);
  assert.equal(rq.implementationClassUid, IMPLEMENTATION_CLASS_UID);
});

test("an A-ASSOCIATE-AC: only contexts with result 0 are accepted, with the syntax the acceptor chose", () => {
  const n = new Negotiation();
  n.propose({
    callingAet: "SCU",
    calledAet: "PACS",
    contexts: [
      { id: 1, abstractSyntax: CT, transferSyntaxes: [EXPLICIT, IMPLICIT] },
      { id: 3, abstractSyntax: CT, transferSyntaxes: [IMPLICIT] },
      { id: 5, abstractSyntax: MR, transferSyntaxes: [EXPLICIT] },
    ],
    roles: [],
  });
  n.accepted({
    calledAet: "PACS",
    callingAet: "SCU",
    applicationContext: APPLICATION_CONTEXT,
    contexts: [
      { id: 1, result: 0, transferSyntax: EXPLICIT },
      { id: 3, result: 0, transferSyntax: IMPLICIT },
      { id: 5, result: 3, transferSyntax: EXPLICIT },
    ],
    maxPdu: 16384,
    implementationClassUid: "1.2.3",
    roles: [],
  });
  assert.deepEqual([...n.contexts.keys()], [1, 3]);
  assert.equal(n.contextFor(MR), undefined, "abstract syntax not supported (result 3)");
  assert.equal(n.contextFor(CT, [IMPLICIT])?.id, 3);
  assert.equal(n.contextFor(CT, [EXPLICIT])?.id, 1);
  // DCMTK prints "Max Send PDV: 16372" for a peer announcing 16384.
  assert.equal(n.maxPdvPayload, 16372);
});

test("the largest PDV sent is even, and 1 MiB when the peer sets no limit (0)", () => {
  const n = new Negotiation();
  n.requested({
    calledAet: "SCP",
    callingAet: "SCU",
    applicationContext: APPLICATION_CONTEXT,
    contexts: [],
    maxPdu: 16385,
    implementationClassUid: "1.2.3",
    roles: [],
  });
  assert.equal(n.maxPdvPayload, 16372);
  n.requested({ ...n.rq!, maxPdu: 0 });
  assert.equal(n.maxPdvPayload, 1024 * 1024);
});

test("an acceptor can only accept after an A-ASSOCIATE-RQ arrived", () => {
  assert.throws(() => new Negotiation().accept([], []), /no A-ASSOCIATE-RQ/);
});
