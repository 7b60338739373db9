"""Writes the kafka-python record batch fixtures that KafkaCompatibilityTests.swift reads.

The committed files were made with kafka-python 3.0.12 on CPython 3.11.7. To make them again:

    python3 -m venv /tmp/kp-venv
    /tmp/kp-venv/bin/pip install kafka-python==3.0.12
    /tmp/kp-venv/bin/python make_kafka_python_batches.py

(run from this folder, or pass the output folder as the only argument). The script is deterministic:
fixed timestamps, no randomness, and the gzip header's modification time is pinned to 0 (kafka-python
otherwise writes the current time there). The gzip bytes also depend on the zlib that Python links;
the uncompressed files do not.

Every batch is built by kafka-python's own v2 builder, `DefaultRecordBatchBuilder`, and read back with
its own reader, `DefaultRecordBatch`, before anything is written. The builder always writes base offset
0 and partition leader epoch 0, which the broker assigns later; for `kafka-python-producer.bin` the script
then sets those two fields the way a broker does on append (base offset 1000, leader epoch 5). Neither
field is covered by the CRC, so the CRC is still the one kafka-python computed.

For each `NAME.bin` a `NAME.json` describes the batch header and every record: keys, values and header
values in base64, null where null; header names as strings.
"""

import base64
import gzip
import json
import os
import struct
import sys
import types

import kafka
import kafka.codec
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder


class _GzipFileWithFixedMtime(gzip.GzipFile):
    """A GzipFile that writes 0 as the modification time, so that the output is deterministic."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("mtime", 0)
        super().__init__(*args, **kwargs)


# kafka.codec.gzip_encode calls gzip.GzipFile; give only kafka.codec the pinned-mtime variant.
kafka.codec.gzip = types.SimpleNamespace(GzipFile=_GzipFileWithFixedMtime)

BASE_TIME = 1_700_000_000_000  # 2023-11-14T22:13:20Z, in milliseconds


def plain_records():
    """Edge cases: null and empty keys and values, unicode, headers, timestamps out of order."""
    return [
        dict(key=b"key-0", value=b"value-0", headers=[], timestamp=BASE_TIME),
        dict(key=None, value=b"a value with a null key", headers=[("trace-id", b"abc123")], timestamp=BASE_TIME + 500),
        # A tombstone, 1 s before the first record: a negative timestamp delta.
        dict(key=b"tombstone", value=None, headers=[], timestamp=BASE_TIME - 1_000),
        dict(key=b"", value=b"", headers=[], timestamp=BASE_TIME + 100),
        dict(
            key="ключ-🔑".encode("utf-8"),
            value="значение — ✓ 日本語 🎉".encode("utf-8"),
            headers=[("ünïcödé-名前", "värde ✓".encode("utf-8"))],
            timestamp=BASE_TIME + 3_000,  # the max timestamp
        ),
        dict(
            key=b"multi-header",
            value=b"h",
            headers=[("a", b"1"), ("empty", b""), ("null-value", None), ("a", b"2"), ("", b"empty name")],
            timestamp=BASE_TIME + 1_000,
        ),
        # Null key and value, 1000 s before the first record: a multi-byte negative delta.
        dict(key=None, value=None, headers=[], timestamp=BASE_TIME - 1_000_000),
        # 256 distinct bytes as the key, 200 bytes as the value: two-byte length varints.
        dict(
            key=bytes(range(256)),
            value=bytes((i * 7 + 3) % 256 for i in range(200)),
            headers=[("bin", bytes([0, 255, 128, 127]))],
            timestamp=BASE_TIME + 2_000,
        ),
    ]


def producer_records():
    return [
        dict(key=b"order-1", value=b'{"amount":10}', headers=[("source", b"checkout")], timestamp=BASE_TIME + 10),
        dict(key=b"order-2", value=b'{"amount":20}', headers=[], timestamp=BASE_TIME + 20),
        dict(key=b"order-3", value=b'{"amount":30}', headers=[("source", b"refund")], timestamp=BASE_TIME + 15),
    ]


def gzip_records():
    """Repetitive values, so that gzip makes the batch smaller (kafka-python sends it uncompressed otherwise)."""
    records = []
    for i in range(60):
        value = json.dumps(
            {"id": i, "customer": "customer-%03d" % (i % 7), "status": ["new", "paid", "shipped"][i % 3],
             "note": "the quick brown fox jumps over the lazy dog"},
            sort_keys=True,
        ).encode("ascii")
        headers = [("content-type", b"application/json")]
        if i % 10 == 0:
            headers.append(("marker", None))
        key = None if i % 13 == 0 else ("customer-%03d" % (i % 7)).encode("ascii")
        # Mostly increasing, with every fifth record 250 ms earlier than the first.
        timestamp = BASE_TIME - 250 if i % 5 == 4 else BASE_TIME + i * 40
        records.append(dict(key=key, value=value, headers=headers, timestamp=timestamp))
    return records


def large_records():
    """500 records: offset deltas, lengths and timestamp deltas that need multi-byte varints."""
    records = []
    for i in range(500):
        length = 64 + (i * 37) % 64  # 64..127 bytes: the length varint takes two bytes
        value = bytes((i * 31 + j * 7) % 256 for j in range(length))
        headers = [("seq", str(i).encode("ascii"))] if i % 50 == 0 else []
        records.append(dict(key=("k%05d" % i).encode("ascii"), value=value, headers=headers,
                            timestamp=BASE_TIME + i * 997 - (5_000 if i % 17 == 0 else 0)))
    return records


def build(records, compression_type=0, is_transactional=False, producer_id=-1, producer_epoch=-1,
          base_sequence=-1):
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression_type,
        is_transactional=is_transactional,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        batch_size=1 << 30,
    )
    for offset, record in enumerate(records):
        metadata = builder.append(offset, timestamp=record["timestamp"], key=record["key"],
                                  value=record["value"], headers=record["headers"])
        assert metadata is not None, "the builder refused a record"
    return bytearray(builder.build())


def set_broker_fields(batch, base_offset, partition_leader_epoch):
    """Sets the two fields the broker assigns on append; the CRC does not cover them."""
    struct.pack_into(">q", batch, 0, base_offset)
    struct.pack_into(">i", batch, 12, partition_leader_epoch)


def b64(data):
    return None if data is None else base64.b64encode(bytes(data)).decode("ascii")


def describe(name, batch, records, compression):
    """Reads `batch` back with kafka-python, checks it against `records`, and returns the JSON description."""
    reader = DefaultRecordBatch(bytes(batch))
    assert reader.validate_crc(), name
    assert reader.compression_type == {"none": 0, "gzip": 1}[compression], (name, reader.compression_type)
    decoded = list(reader)
    assert len(decoded) == len(records), name
    described = []
    for offset, (expected, got) in enumerate(zip(records, decoded)):
        assert got.offset == reader.base_offset + offset, name
        assert got.timestamp == expected["timestamp"], name
        assert got.key == expected["key"] and got.value == expected["value"], name
        assert [(k, None if v is None else bytes(v)) for k, v in got.headers] == expected["headers"], name
        described.append({
            "offset": got.offset,
            "timestamp": got.timestamp,
            "key": b64(got.key),
            "value": b64(got.value),
            "headers": [{"name": k, "value": b64(v)} for k, v in got.headers],
        })
    return {
        "file": name + ".bin",
        "made_by": "kafka-python %s DefaultRecordBatchBuilder" % kafka.__version__,
        "compression": compression,
        "size": len(batch),
        "batch": {
            "base_offset": reader.base_offset,
            "batch_length": reader.size_in_bytes - 12,
            "partition_leader_epoch": reader.leader_epoch,
            "magic": reader.magic,
            "crc": reader.crc,
            "attributes": reader.attributes,
            "last_offset_delta": reader.last_offset_delta,
            "base_timestamp": reader.first_timestamp,
            "max_timestamp": reader.max_timestamp,
            "producer_id": reader.producer_id,
            "producer_epoch": reader.producer_epoch,
            "base_sequence": reader.base_sequence,
            "record_count": reader.records_count,
            "is_transactional": reader.is_transactional,
        },
        "records": described,
    }


def to_json(description):
    """Indented JSON, except that each record takes one line, to keep the large fixtures' files short."""
    records = description["records"]
    head = json.dumps(dict(description, records=[]), indent=2, ensure_ascii=False)
    assert head.endswith('"records": []\n}')
    lines = ",\n".join("    " + json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in records)
    return head[: -len("[]\n}")] + "[\n" + lines + "\n  ]\n}\n"


def write(folder, name, batch, records, compression):
    description = describe(name, batch, records, compression)
    assert len(batch) < 100_000, (name, len(batch))
    with open(os.path.join(folder, name + ".bin"), "wb") as f:
        f.write(bytes(batch))
    with open(os.path.join(folder, name + ".json"), "w", encoding="utf-8") as f:
        f.write(to_json(description))
    print("%-40s %6d bytes, %3d records" % (name + ".bin", len(batch), len(records)))


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

    records = plain_records()
    write(folder, "kafka-python-plain", build(records), records, "none")

    records = producer_records()
    batch = build(records, is_transactional=True, producer_id=123_456_789_012, producer_epoch=7, base_sequence=42)
    set_broker_fields(batch, base_offset=1000, partition_leader_epoch=5)
    write(folder, "kafka-python-producer", batch, records, "none")

    records = gzip_records()
    gzipped = build(records, compression_type=DefaultRecordBatchBuilder.CODEC_GZIP)
    twin = build(records)
    assert len(gzipped) < len(twin), "kafka-python fell back to an uncompressed batch"
    write(folder, "kafka-python-gzip", gzipped, records, "gzip")
    write(folder, "kafka-python-gzip-uncompressed-twin", twin, records, "none")

    records = large_records()
    write(folder, "kafka-python-large", build(records), records, "none")


if __name__ == "__main__":
    main()
