#!/usr/bin/python3
"""Fixtures for the dcmanon checks (PS3.15 de-identification), written with pydicom.

Usage: fixtures.py OUTDIR [TABLE_TSV]

OUTDIR/F/...       fixture set F: patient A (2 studies: CT x5 + a presentation state
                   referencing them; an SR naming the patient), patient B (PET with a
                   nested RadiopharmaceuticalStartDateTime), extras (SC with burned-in
                   annotation, SCREEN SAVE CT, ISO_IR 192 and ISO 2022 IR 87 names,
                   DICOMDIR), and the CT in implicit, big endian and deflated syntaxes.
OUTDIR/T/T.dcm     every single-tag Table E.1-1 attribute pydicom knows, with a VR-legal
                   sentinel, at the top level and inside an item of a sequence.
OUTDIR/P/sub-1234/ses-20220815/s1/IM1.dcm    PACSIFIER's layout.
OUTDIR/K/tagged.dcm, K/untagged.dcm   PACSIFIER's Karnak tags: private block CHUV_DEV_TML
                   (pseudonym P0042, album, day shift -21) behind another creator's block;
                   the same patient without the tags.
OUTDIR/S/safe.dcm  Table E.3.10-1 safe private elements in moved blocks, an unlisted one, one
                   listed under another creator, one of another VR; safe-implicit.dcm the same
                   in implicit VR; leak.dcm with the patient's name in a safe one.
OUTDIR/R/*.dcm     images with a name banner burned in, for --redact (8-bit mono, RGB
                   interleaved and planar, 16-bit mono, three frames, a US no rule matches, an SC
                   with BurnedInAnnotation NO and an icon).
OUTDIR/manifest.json   the identifying values put into F (what must not come out).
"""
import json
import os
import sys

import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.sequence import Sequence
from pydicom.uid import (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian,
                         DeflatedExplicitVRLittleEndian)

OUT = sys.argv[1]
TABLE = sys.argv[2] if len(sys.argv) > 2 else None

CT = "1.2.840.10008.5.1.4.1.1.2"
PT = "1.2.840.10008.5.1.4.1.1.128"
SC = "1.2.840.10008.5.1.4.1.1.7"
PR = "1.2.840.10008.5.1.4.1.1.11.1"
SR = "1.2.840.10008.5.1.4.1.1.88.22"
ROOT = "1.2.826.0.1.3680043.10.1234"

manifest = {"names": [], "ids": [], "dates": [], "texts": [], "uids": []}


def uid(*parts):
    return ROOT + "." + ".".join(str(p) for p in parts)


def person(name_parts):
    for p in name_parts:
        manifest["names"].append(p)


def write(path, ds, ts=ExplicitVRLittleEndian):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ts
    meta.ImplementationClassUID = uid(999)
    meta.SourceApplicationEntityTitle = "HOSPITALPACS"
    fds = FileDataset(path, ds, file_meta=meta, preamble=b"\x01" * 128)
    fds.is_little_endian = ts != ExplicitVRBigEndian
    fds.is_implicit_VR = ts == ImplicitVRLittleEndian
    fds.save_as(path, write_like_original=False)


def common(ds, pat, study, series, inst, sop_class):
    ds.SpecificCharacterSet = pat.get("charset", "ISO_IR 100")
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = uid(pat["n"], study, series, inst)
    ds.StudyInstanceUID = uid(pat["n"], study)
    ds.SeriesInstanceUID = uid(pat["n"], study, series)
    ds.FrameOfReferenceUID = uid(pat["n"], study, 0, 1)
    for u in (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID):
        manifest["uids"].append(u)
    ds.PatientName = pat["name"]
    ds.PatientID = pat["id"]
    ds.IssuerOfPatientID = "HOSPITAL-A-MRN"
    ds.PatientBirthDate = pat["birth"]
    ds.PatientSex = "M"
    ds.PatientAge = pat["age"]
    ds.StudyDate = pat["dates"][study - 1]
    ds.SeriesDate = pat["dates"][study - 1]
    ds.ContentDate = pat["dates"][study - 1]
    ds.StudyTime = "101500"
    ds.ContentTime = "101600.25"
    ds.AcquisitionDateTime = pat["dates"][study - 1] + "101530.123+0200"
    ds.AccessionNumber = "ACC%d%05d" % (pat["n"], 77000 + study)
    manifest["ids"].append(ds.AccessionNumber)
    ds.StudyID = "S%d" % study
    ds.SeriesNumber = series
    ds.InstanceNumber = inst
    ds.InstitutionName = "Saint Elsewhere Teaching Hospital"
    manifest["texts"].append(ds.InstitutionName)
    ds.ReferringPhysicianName = "Welby^Marcus"
    person(["Welby", "Marcus"])
    ds.StudyDescription = "CT chest for %s" % pat["family"]
    ds.BurnedInAnnotation = "NO"
    other = Dataset()
    other.PatientID = pat["other_id"]
    other.IssuerOfPatientID = "OTHER-HOSPITAL"
    ds.OtherPatientIDsSequence = Sequence([other])
    manifest["ids"].append(pat["other_id"])
    # RequestAttributesSequence, three levels deep
    ctx = Dataset()
    ctx.ValueType = "PNAME"
    ctx.PersonName = pat["name"]
    proto = Dataset()
    proto.CodeValue = "P1"
    proto.CodingSchemeDesignator = "99LOCAL"
    proto.CodeMeaning = "Protocol one"
    proto.ProtocolContextSequence = Sequence([ctx])
    req = Dataset()
    req.AccessionNumber = ds.AccessionNumber
    req.RequestedProcedureID = "RP%07d" % (pat["n"] * 1000 + study)
    manifest["ids"].append(req.RequestedProcedureID)
    req.ScheduledPerformingPhysicianName = "Casey^Ben"
    person(["Casey", "Ben"])
    req.ScheduledProtocolCodeSequence = Sequence([proto])
    ds.RequestAttributesSequence = Sequence([req])
    # a private block holding the name
    ds.add_new(0x00290010, "LO", "ACME")
    ds.add_new(0x00291010, "LO", "%s" % pat["name"])


def image(ds, rows=8, cols=8, seed=0):
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(((i * 7 + seed) % 251) for i in range(rows * cols * 2))


A = {"n": 1, "name": "Doe^John^Quincy", "family": "DOE JOHN", "id": "PID4455667", "other_id": "OTHER987654",
     "birth": "19700315", "age": "052Y", "dates": ["20220801", "20221115"]}
B = {"n": 2, "name": "Roe^Richard", "family": "Roe", "id": "PID7788990", "other_id": "OTHER123789",
     "birth": "19551224", "age": "067Y", "dates": ["20230102"]}
for p in (A, B):
    person(p["name"].split("^"))
    manifest["ids"].append(p["id"])
    manifest["dates"].append(p["birth"])
manifest["ids"].append("HOSPITAL-A-MRN")

F = os.path.join(OUT, "F")
ct_refs = []
for i in range(1, 6):
    ds = Dataset()
    common(ds, A, 1, 1, i, CT)
    ds.Modality = "CT"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    image(ds, seed=i)
    write(os.path.join(F, "A", "ct%d.dcm" % i), ds)
    ct_refs.append(ds.SOPInstanceUID)
    if i == 1:
        for n, (name, ts) in enumerate([("implicit", ImplicitVRLittleEndian), ("big", ExplicitVRBigEndian), ("deflated", DeflatedExplicitVRLittleEndian)]):
            ds.SOPInstanceUID = uid(1, 1, 1, 100 + n)
            manifest["uids"].append(ds.SOPInstanceUID)
            write(os.path.join(OUT, "syntax", name + ".dcm"), ds, ts)
        ds.SOPInstanceUID = uid(1, 1, 1, i)

# presentation state referencing the CT images
ds = Dataset()
common(ds, A, 1, 2, 1, PR)
ds.Modality = "PR"
ds.ContentLabel = "PS1"
refs = []
for u in ct_refs:
    r = Dataset()
    r.ReferencedSOPClassUID = CT
    r.ReferencedSOPInstanceUID = u
    refs.append(r)
rs = Dataset()
rs.SeriesInstanceUID = uid(1, 1, 1)
rs.ReferencedImageSequence = Sequence(refs)
ds.ReferencedSeriesSequence = Sequence([rs])
write(os.path.join(F, "A", "pr.dcm"), ds)

# SR naming the patient, in the second study
ds = Dataset()
common(ds, A, 2, 1, 1, SR)
ds.Modality = "SR"
ds.ValueType = "CONTAINER"
pn = Dataset()
pn.RelationshipType = "CONTAINS"
pn.ValueType = "PNAME"
pn.PersonName = A["name"]
tx = Dataset()
tx.RelationshipType = "CONTAINS"
tx.ValueType = "TEXT"
tx.TextValue = "Patient John Doe, MRN PID4455667, seen today."
ds.ContentSequence = Sequence([pn, tx])
write(os.path.join(F, "A", "sr.dcm"), ds)

# PET of patient B
ds = Dataset()
common(ds, B, 1, 1, 1, PT)
ds.Modality = "PT"
ds.ImageType = ["ORIGINAL", "PRIMARY"]
rp = Dataset()
rp.RadiopharmaceuticalStartDateTime = "20230102081500.000000+0200"
rp.RadionuclideTotalDose = "350000000"
ds.RadiopharmaceuticalInformationSequence = Sequence([rp])
image(ds, seed=9)
write(os.path.join(F, "B", "pt.dcm"), ds)

# a 95-year-old (for --age-cap)
ds.PatientAge = "095Y"
ds.SOPInstanceUID = uid(2, 1, 1, 95)
write(os.path.join(OUT, "age", "old.dcm"), ds)

# extras
ds = Dataset()
common(ds, B, 1, 2, 1, SC)
ds.Modality = "OT"
ds.BurnedInAnnotation = "YES"
image(ds, seed=3)
write(os.path.join(F, "extras", "sc-burned.dcm"), ds)

ds = Dataset()
common(ds, A, 1, 3, 1, CT)
ds.Modality = "CT"
ds.ImageType = ["DERIVED", "SECONDARY", "SCREEN SAVE"]
image(ds, seed=4)
write(os.path.join(F, "extras", "screen-save.dcm"), ds)

C = {"n": 3, "name": "Müller^Jürgen", "family": "Müller", "id": "PID3344556", "other_id": "OTHER555666",
     "birth": "19801001", "age": "042Y", "dates": ["20221001"], "charset": "ISO_IR 192"}
person(["Müller", "Jürgen"])
manifest["ids"].append(C["id"])
ds = Dataset()
common(ds, C, 1, 1, 1, CT)
ds.Modality = "CT"
ds.SeriesDescription = "Tête/Cou"
image(ds, seed=5)
write(os.path.join(F, "charset", "utf8.dcm"), ds)

J = {"n": 4, "name": "Yamada^Tarou=山田^太郎=やまだ^たろう", "family": "Yamada", "id": "PID9988776",
     "other_id": "OTHER444333", "birth": "19650505", "age": "057Y", "dates": ["20220505"],
     "charset": ["", "ISO 2022 IR 87"]}
person(["Yamada", "Tarou", "山田", "太郎", "やまだ", "たろう"])
manifest["ids"].append(J["id"])
ds = Dataset()
common(ds, J, 1, 1, 1, CT)
ds.Modality = "CT"
image(ds, seed=6)
write(os.path.join(F, "charset", "jis.dcm"), ds)

# a DICOMDIR-like file (Media Storage Directory)
ds = Dataset()
ds.SOPClassUID = "1.2.840.10008.1.3.10"
ds.SOPInstanceUID = uid(9, 9)
ds.FileSetID = "SET1"
write(os.path.join(F, "extras", "DICOMDIR"), ds)

# PACSIFIER layout
ds = Dataset()
P = {"n": 5, "name": "Poe^Edgar", "family": "Poe", "id": "PID1212121", "other_id": "OTHER121212",
     "birth": "19490119", "age": "073Y", "dates": ["20220815"]}
common(ds, P, 1, 1, 1, CT)
ds.Modality = "CT"
image(ds, seed=7)
write(os.path.join(OUT, "P", "sub-1234", "ses-20220815", "s1", "IM1.dcm"), ds)
ds.PatientID = "PID3434343"
ds.SOPInstanceUID = uid(5, 1, 1, 2)
write(os.path.join(OUT, "P", "sub-9999", "ses-20220815", "s1", "IM1.dcm"), ds)

# Karnak tags as PACSIFIER's add_karnak_tags writes them, in the second private block of group 000B
ds.PatientID = "PID5656565"
ds.SOPInstanceUID = uid(5, 1, 1, 3)
ds.add_new(0x000B0010, "LO", "OTHER_VENDOR")
ds.add_new(0x000B1001, "LO", "WRONG")
ds.add_new(0x000B0011, "LO", "CHUV_DEV_TML")
ds.add_new(0x000B1101, "LO", "P0042")
ds.add_new(0x000B1102, "LO", "album")
ds.add_new(0x000B1103, "LO", "-21")
write(os.path.join(OUT, "K", "tagged.dcm"), ds)
for t in (0x000B0010, 0x000B1001, 0x000B0011, 0x000B1101, 0x000B1102, 0x000B1103):
    del ds[t]
ds.SOPInstanceUID = uid(5, 1, 1, 4)
write(os.path.join(OUT, "K", "untagged.dcm"), ds)

# S: PS3.15 Table E.3.10-1 safe private attributes, in blocks other than the vendor's usual one
ds.SOPInstanceUID = uid(5, 1, 1, 5)
ds.add_new(0x00190010, "LO", "ACME_NOTES")         # block 10: a creator the table does not list
ds.add_new(0x00191023, "DS", "7.5")                # offset 23: listed, but for GEMS_ACQU_01 only
ds.add_new(0x00190012, "LO", "GEMS_ACQU_01")       # block 12 (GE's scanners use block 10)
ds.add_new(0x00191210, "LO", "NOT LISTED")         # offset 10: not listed for GEMS_ACQU_01
ds.add_new(0x00191223, "DS", "39.37")              # Table Speed [mm/rotation]: listed
ds.add_new(0x00191224, "DS", "0.5")                # Mid Scan Time [sec]: listed
ds.add_new(0x00190014, "LO", "SIEMENS MR HEADER")  # block 14
ds.add_new(0x0019140C, "IS", "1000")               # B Value: listed
ds.add_new(0x0019140D, "DS", "3.5")                # listed as CS: another VR, not the listed attribute
ds.add_new(0x20010011, "LO", "Philips Imaging DD 001")
ds.add_new(0x20011150, "LO", "ARROW")              # Graphic Marker Type: listed
write(os.path.join(OUT, "S", "safe.dcm"), ds)
ds.SOPInstanceUID = uid(5, 1, 1, 6)
write(os.path.join(OUT, "S", "safe-implicit.dcm"), ds, ImplicitVRLittleEndian)
ds.SOPInstanceUID = uid(5, 1, 1, 7)
ds[0x20011150].value = "POE ARROW"                 # the patient's name in a safe private element
write(os.path.join(OUT, "S", "leak.dcm"), ds)

# R: images with a "name banner" burned in (value 250/240 in rows 1-6, columns 2-29) over a
# background that is never 0, for --redact: 8-bit mono, RGB interleaved and planar, 16-bit mono,
# three frames; one US no signature matches; an SC whose BurnedInAnnotation is NO, with an icon.
US = "1.2.840.10008.5.1.4.1.1.6.1"
US_MF = "1.2.840.10008.5.1.4.1.1.3.1"


def banner_image(ds, spp=1, bits=8, planar=0, frames=1, rows=32, cols=40):
    ds.Rows = rows
    ds.Columns = cols
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = "RGB" if spp == 3 else "MONOCHROME2"
    if spp == 3:
        ds.PlanarConfiguration = planar
    ds.BitsAllocated = bits
    ds.BitsStored = 8 if bits == 8 else 12
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    out = bytearray()
    for f in range(frames):
        if planar:
            order = [(s, r, c) for s in range(spp) for r in range(rows) for c in range(cols)]
        else:
            order = [(s, r, c) for r in range(rows) for c in range(cols) for s in range(spp)]
        for s, r, c in order:
            if 1 <= r <= 6 and 2 <= c <= 29:
                v = 250 if c % 3 else 240
            else:
                v = 1 + (f * 5 + r * cols * 3 + c * 3 + s * 7) % 200
            out += v.to_bytes(bits // 8, "little")
    ds.PixelData = bytes(out)


R = os.path.join(OUT, "R")
for n, (name, cls, modality, maker, burned, kw) in enumerate([
    ("us8", US, "US", "ACME Medical", "YES", {}),
    ("us-rgb", US, "US", "ACME Medical", "YES", {"spp": 3}),
    ("us-rgb-planar", US, "US", "ACME Medical", "YES", {"spp": 3, "planar": 1}),
    ("us-multiframe", US_MF, "US", "ACME Medical", "YES", {"frames": 3}),
    ("sc16", SC, "OT", "Capture Co", None, {"bits": 16}),
    ("us-other", US, "US", "Other Corp", "YES", {}),
    ("sc-no", SC, "OT", "Capture Co", "NO", {"rows": 16}),
]):
    ds = Dataset()
    common(ds, B, 1, 10 + n, 1, cls)
    ds.Modality = modality
    ds.Manufacturer = maker
    ds.ImageType = ["DERIVED", "SECONDARY"]
    if burned is None:
        del ds.BurnedInAnnotation
    else:
        ds.BurnedInAnnotation = burned
    banner_image(ds, **kw)
    if name == "sc-no":
        icon = Dataset()
        banner_image(icon, rows=4, cols=4)
        ds.IconImageSequence = Sequence([icon])
    write(os.path.join(R, name + ".dcm"), ds)

# T: every single-tag Table E.1-1 attribute with a VR-legal sentinel
SENT = {
    "PN": "Sentinel^Person", "LO": "SENTINEL VALUE", "SH": "SENTINEL", "CS": "SENTINEL", "LT": "SENTINEL TEXT",
    "ST": "SENTINEL TEXT", "UT": "SENTINEL TEXT", "UC": "SENTINEL", "UR": "http://sentinel.example/x",
    "DA": "20010203", "TM": "010203", "DT": "20010203040506", "AS": "033Y", "IS": "7", "DS": "7.5",
    "AE": "SENTINELAE", "US": 7, "SS": 7, "UL": 7, "SL": 7, "FL": 7.0, "FD": 7.0, "AT": 0x00100010,
    "OB": b"\x01\x02", "OW": b"\x01\x02", "UN": b"\x01\x02", "OF": b"\x00\x00\x80\x3f", "OD": b"\x00" * 8,
    "OL": b"\x01\x00\x00\x00", "OV": b"\x01" + b"\x00" * 7, "SV": 7, "UV": 7,
}
checked = []
if TABLE:
    rows = [l.rstrip("\n").split("\t") for l in open(TABLE, encoding="utf-8")]
    top = Dataset()
    inner = Dataset()
    n = 0
    for tag_text, basic in rows:
        if not all(c in "0123456789ABCDEF" for c in tag_text[1:5] + tag_text[6:10]):
            continue
        g, e = int(tag_text[1:5], 16), int(tag_text[6:10], 16)
        tag = (g << 16) | e
        if g in (0x0000, 0x0002, 0x0004) or g >= 0xFFFA:
            continue
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            continue
        vr = vr.split(" or ")[0]
        if vr == "SQ":
            item = Dataset()
            item.CodeValue = "SENT"
            item.CodingSchemeDesignator = "99SENT"
            item.CodeMeaning = "Sentinel"
            val = Sequence([item])
            val2 = Sequence([Dataset(item)])
        elif vr == "UI":
            n += 1
            val = uid(77, n)
            val2 = uid(78, n)
        elif vr in SENT:
            val = SENT[vr]
            val2 = SENT[vr]
        else:
            continue
        top.add_new(tag, vr, val)
        inner.add_new(tag, vr, val2)
        checked.append({"tag": tag_text, "vr": vr, "basic": basic, "keyword": keyword_for_tag(tag)})
    top.SOPClassUID = CT
    top.SOPInstanceUID = uid(77, 0)
    top.PatientID = "SENTPID12345"
    top.StudyInstanceUID = uid(77, 0, 1)
    top.SeriesInstanceUID = uid(77, 0, 2)
    top.ReferencedSeriesSequence = Sequence([inner])
    write(os.path.join(OUT, "T", "T.dcm"), top)

manifest["tableChecked"] = checked
with open(os.path.join(OUT, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump(manifest, f, ensure_ascii=False, indent=1)
