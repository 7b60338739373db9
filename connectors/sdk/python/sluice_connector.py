"""Sluice's connector SDK for Python: write a source or a sink as a small program.

One file, the standard library only. Sluice starts the program and talks to it over its standard
input and output (connectors/PROTOCOL.md); this module speaks that protocol, so a connector is a
class with a few methods:

    import sluice_connector as sluice

    class Lines(sluice.Source):
        name = "lines"
        options = [sluice.Option("path", "string", required=True, meaning="The file to read.")]

        def open(self, options, position):
            self.file = open(options["path"], "rb")
            self.file.seek(int(position or 0))

        def records(self):                 # the per-record API; `batches` is the batch API
            for line in self.file:
                yield None, line.rstrip(b"\\n")  # (key, value)

        def position(self):                # where the records yielded so far end
            return str(self.file.tell())

    if __name__ == "__main__":
        sluice.run(Lines())

Printing is safe: the protocol keeps its own copy of standard output, and `print` goes to standard
error, which Sluice writes to its log with the connector's name. Standard input reads as empty.
"""

import array
import json
import os
import struct
import sys
import time
import traceback

PROTOCOL_VERSIONS = [1]
_CONTROL = 1
_RECORDS = 2
_MAX_FRAME = 64 << 20
_LITTLE = sys.byteorder == "little"


class Option:
    """One option of the connector, as `sluice validate` checks it and `sluice connectors describe`
    lists it. Types: string, character, integer (min, max), boolean, choice (values), string_list,
    string_map."""

    def __init__(self, name, type="string", required=False, default=None, meaning="", minimum=None,
                 maximum=None, values=None, example=None):
        self.name, self.type, self.required, self.default = name, type, required, default
        self.meaning, self.minimum, self.maximum, self.values, self.example = meaning, minimum, maximum, values, example

    def declaration(self):
        out = {"name": self.name, "type": self.type}
        if self.required:
            out["required"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.values is not None:
            out["values"] = list(self.values)
        out["meaning"] = self.meaning
        if self.example is not None:
            out["example"] = self.example
        return out


class RecordError(Exception):
    """This record cannot be delivered: it goes to the dead-letter topic with this message."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class TransientError(Exception):
    """The batch cannot be written now (a connection lost, a lock): Sluice drops what was written
    since the last flush (`abort`) and writes the batch again after a backoff."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class FatalError(Exception):
    """Nothing will work until a person fixes something (bad options, a missing table): the pipeline
    stops with this message."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class DeadLetter:
    """Input a source could not turn into a record: `raw` (bytes or str) goes to the source's
    dead-letter topic with `message`."""

    __slots__ = ("raw", "message", "headers")

    def __init__(self, raw, message, headers=None):
        self.raw, self.message, self.headers = raw, message, headers


class Record:
    """A record. A source yields these (or plain (key, value) tuples); a sink receives them, with
    `topic`, `partition`, `offset` and `timestamp` (milliseconds since the epoch) set. `key` and
    `value` are bytes (or None); `headers` is a dict of str to bytes (or None)."""

    __slots__ = ("topic", "partition", "offset", "timestamp", "key", "value", "_headers", "_raw_headers")

    def __init__(self, key=None, value=None, headers=None, timestamp=-1, topic="", partition=-1, offset=-1):
        self.key, self.value, self._headers, self._raw_headers = key, value, headers, None
        self.timestamp, self.topic, self.partition, self.offset = timestamp, topic, partition, offset

    @property
    def headers(self):
        if self._headers is None:
            self._headers = _decode_headers(self._raw_headers) if self._raw_headers else {}
        return self._headers

    def json(self):
        """The value parsed as JSON (Sluice's CSV source writes each row as a JSON object)."""
        return None if self.value is None else json.loads(self.value)

    def __repr__(self):
        return f"Record({self.topic}-{self.partition}@{self.offset}, key={self.key!r}, value={self.value!r})"


class Batch:
    """What a source's `batches` yields: records (Record objects, (key, value) tuples or DeadLetter)
    and the position after them."""

    __slots__ = ("records", "position")

    def __init__(self, records, position):
        self.records, self.position = records, position


class Source:
    """Subclass and implement `open` and `records` (or `batches`), and `position`."""

    name = "source"
    summary = ""
    options = []
    #: "binary" (fast) or "jsonl" (every message a line of JSON, a few times slower).
    framing = "binary"
    #: How long, in seconds, the per-record API holds a batch open while records keep coming.
    max_batch_wait = 0.1

    def open(self, options, position):
        """Start reading after `position` (the string `position()` returned for the last batch Sluice
        stored, or None at the start). `options` holds every declared option, defaults filled in."""

    def records(self):
        """The per-record API: yield (key, value) tuples, Records or DeadLetters; yield None to say that
        nothing more comes for now (what was yielded is sent at once). Ends at the end of the input."""
        raise NotImplementedError("implement records() or batches()")

    def position(self):
        """Where the input read so far ends, as a string: Sluice stores it with the records yielded so
        far and gives it back to `open` after a restart. From the same position a source must yield the
        same records in the same order."""
        return None

    def batches(self, max_records, max_bytes):
        """The batch API: yield Batch objects. By default, cuts `records()` into batches: at
        `max_records`, at about `max_bytes`, when a batch has waited `max_batch_wait` seconds (checked
        as records come), and at each `None` that `records()` yields (yield one when nothing more is
        coming soon, so that what came is sent at once)."""
        batch = []
        size = 0
        started = 0.0
        monotonic = time.monotonic
        wait = self.max_batch_wait
        for item in self.records():
            if item is None:
                if batch:
                    yield Batch(batch, self.position())
                    batch, size = [], 0
                continue
            if not batch:
                started = monotonic()
            batch.append(item)
            size += 64
            if len(batch) >= max_records or size >= max_bytes or monotonic() - started >= wait:
                yield Batch(batch, self.position())
                batch, size = [], 0
        if batch:
            yield Batch(batch, self.position())

    def acknowledged(self, position):
        """Everything up to `position` is durable in Sluice: input up to there may be deleted."""

    def close(self):
        """Release files and connections."""


class Sink:
    """Subclass and implement `write` (per record) or `write_batch`, and `flush`."""

    name = "sink"
    summary = ""
    options = []
    framing = "binary"
    #: True for a sink that makes each batch durable before `write_batch` returns (a transaction per
    #: batch): Sluice then needs no `flush` before it commits.
    durable_writes = False

    def open(self, options, context):
        """`context` holds name, task, group, topics and schemas (per topic: column types and key)."""

    def assign(self, partitions):
        """The task now owns `partitions`, a dict of (topic, partition) to the offset delivery goes on
        from. A sink that stores its offsets with its data (exactly-once) returns its own, a dict of
        (topic, partition) to the next offset it needs: records before it are skipped for it."""
        return None

    def revoke(self, partitions):
        """The task gives `partitions` up; what was written for them and not flushed may be dropped."""

    def write(self, record):
        """The per-record API: write one record; raise RecordError if it cannot be delivered."""
        raise NotImplementedError("implement write() or write_batch()")

    def write_batch(self, records):
        """The batch API: write a list of Records; return the failures, a list of (record, message)."""
        failures = []
        write = self.write
        for record in records:
            try:
                write(record)
            except RecordError as error:
                failures.append((record, error))
        return failures

    def flush(self):
        """Make everything written since the last flush durable (commit, fsync)."""

    def abort(self):
        """Drop everything written since the last flush; the batch will come again."""

    def stop(self):
        """The task ends (after a flush)."""

    def read_back(self):
        """For `sluice connectors test`: the `id` member of the value of every record the sink holds
        durably (the suite's records are JSON objects with a unique id), or None if it cannot tell."""
        return None


# --- the protocol --------------------------------------------------------------------------------


def _decode_headers(raw):
    count = struct.unpack_from("<H", raw, 0)[0]
    at, out = 2, {}
    for _ in range(count):
        name_length = struct.unpack_from("<H", raw, at)[0]
        name = bytes(raw[at + 2:at + 2 + name_length]).decode("utf-8", "replace")
        at += 2 + name_length
        value_length = struct.unpack_from("<i", raw, at)[0]
        at += 4
        if value_length < 0:
            out[name] = None
        else:
            out[name] = bytes(raw[at:at + value_length])
            at += value_length
    return out


def _encode_headers(headers):
    if not headers:
        return b""
    parts = [struct.pack("<H", len(headers))]
    for name, value in headers.items():
        name = name.encode()
        parts.append(struct.pack("<H", len(name)))
        parts.append(name)
        if value is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            if isinstance(value, str):
                value = value.encode()
            parts.append(struct.pack("<i", len(value)))
            parts.append(value)
    return b"".join(parts)


def _as_bytes(value):
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return json.dumps(value, separators=(",", ":")).encode()


def _ints(code, data):
    values = array.array(code)
    values.frombytes(data)
    if not _LITTLE:
        values.byteswap()
    return values


def _column(code, values):
    column = array.array(code, values)
    if not _LITTLE:
        column.byteswap()
    return column.tobytes()


class ProtocolError(Exception):
    pass


class _Channel:
    """The protocol's pipes. Keeps a private copy of standard output and points file descriptor 1 at
    standard error, so that stray prints (ours or a library's) never reach the protocol."""

    def __init__(self):
        sys.stdout.flush()
        out_fd = os.dup(1)
        os.dup2(2, 1)
        in_fd = os.dup(0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        self.out = os.fdopen(out_fd, "wb", buffering=1 << 20)
        self.inp = os.fdopen(in_fd, "rb", buffering=1 << 20)
        sys.stdin = open(os.devnull)
        self.framing = "binary"

    def send_line(self, message):
        self.out.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.out.flush()

    def send(self, message):
        if self.framing == "jsonl":
            self.send_line(message)
            return
        body = json.dumps(message, separators=(",", ":")).encode()
        self.out.write(struct.pack("<IB", len(body) + 1, _CONTROL))
        self.out.write(body)
        self.out.flush()

    def send_records(self, parts, length, json_message):
        if self.framing == "jsonl":
            self.send_line(json_message())
            return
        self.out.write(struct.pack("<IB", length + 1, _RECORDS))
        self.out.write(b"".join(parts))
        self.out.flush()

    def receive(self):
        """The next message: ("control", dict) or ("records", memoryview); None at the end of input."""
        if self.framing == "jsonl":
            line = self.inp.readline()
            if not line:
                return None
            message = json.loads(line)
            return ("records", message) if message.get("type") == "records" else ("control", message)
        head = self.inp.read(5)
        if not head:
            return None
        if len(head) < 5:
            raise ProtocolError("the input ended inside a frame")
        length, kind = struct.unpack("<IB", head)
        if length < 1 or length > _MAX_FRAME:
            raise ProtocolError(f"a frame of {length} bytes")
        body = self.inp.read(length - 1)
        if len(body) < length - 1:
            raise ProtocolError("the input ended inside a frame")
        if kind == _CONTROL:
            return ("control", json.loads(body))
        if kind == _RECORDS:
            return ("records", memoryview(body))
        raise ProtocolError(f"a frame of unknown kind {kind}")


def _hello(connector, role):
    return {
        "type": "hello",
        "protocol_versions": PROTOCOL_VERSIONS,
        "role": role,
        "name": connector.name,
        "summary": connector.summary,
        "framing": connector.framing,
        "options": [option.declaration() for option in connector.options],
    }


def _error(channel, error, default_class="fatal"):
    kind = {RecordError: "record", TransientError: "transient", FatalError: "fatal"}.get(type(error))
    if kind is None:
        for base, name in ((TransientError, "transient"), (FatalError, "fatal"), (RecordError, "record")):
            if isinstance(error, base):
                kind = name
                break
    message = {"type": "error", "class": kind or default_class, "message": str(error) or type(error).__name__}
    code = getattr(error, "code", None)
    if code:
        message["code"] = code
    try:
        channel.send(message)
    except OSError:
        pass


def run(connector):
    """Runs `connector` (a Source or a Sink instance) until Sluice closes its input. Never returns."""
    channel = _Channel()
    role = "source" if isinstance(connector, Source) else "sink"
    # SLUICE_CONNECTOR_FRAMING=jsonl runs a connector in the JSON-lines framing, to compare the two.
    connector.framing = os.environ.get("SLUICE_CONNECTOR_FRAMING", connector.framing)
    channel.send_line(_hello(connector, role))
    channel.framing = connector.framing
    try:
        message = channel.receive()
        if message is None:  # Sluice only wanted the hello (`sluice validate`, `connectors describe`)
            os._exit(0)
        kind, opening = message
        if kind != "control" or opening.get("type") != "open":
            raise ProtocolError(f"expected an open message, got {opening!r:.200}")
        if role == "source":
            _run_source(connector, channel, opening)
        else:
            _run_sink(connector, channel, opening)
    except (BrokenPipeError, ConnectionResetError):
        pass
    except ProtocolError as error:
        print(f"{connector.name}: protocol error: {error}", file=sys.stderr)
        _error(channel, error)
        sys.stderr.flush()
        os._exit(3)
    except Exception as error:  # a connector's own failure: said once, with its class
        traceback.print_exc()
        _error(channel, error)
        sys.stderr.flush()
        os._exit(1)
    sys.stderr.flush()
    os._exit(0)


# --- sources -------------------------------------------------------------------------------------


def _encode_source_batch(number, items, position):
    """The frame's parts for a source batch: groups of records and dead letters in their order."""
    position = b"" if position is None else str(position).encode()
    groups = []
    current_kind = None
    keys = values = headers = None
    for item in items:
        if type(item) is tuple:
            kind = 0
            key, value = item[0], item[1]
            header = item[2] if len(item) > 2 else None
        elif isinstance(item, Record):
            kind, key, value, header = 0, item.key, item.value, item._headers
        elif isinstance(item, DeadLetter):
            kind, key, value = 1, None, item.raw
            header = dict(item.headers or {})
            header["sluice.error.message"] = item.message
        else:
            raise FatalError(f"a source yielded {type(item).__name__}; expected a (key, value) tuple, a Record or a DeadLetter")
        if kind != current_kind:
            keys, values, headers = [], [], []
            groups.append((kind, keys, values, headers))
            current_kind = kind
        keys.append(key if key is None or type(key) is bytes else _as_bytes(key))
        values.append(value if value is None or type(value) is bytes else _as_bytes(value))
        headers.append(_encode_headers(header) if header else b"")
    parts = [struct.pack("<IQI", 0, number, len(position)), position, struct.pack("<I", len(groups))]
    for kind, keys, values, headers in groups:
        n = len(values)
        parts.append(struct.pack("<HiBI", 0, -1, kind, n))
        parts.append(bytes(8 * n))
        parts.append(_column("q", [-1]) * n)
        parts.append(_column("i", [-1 if k is None else len(k) for k in keys]))
        parts.append(_column("i", [-1 if v is None else len(v) for v in values]))
        parts.append(_column("I", [len(h) for h in headers]))
        parts.append(b"".join([k for k in keys if k]))
        parts.append(b"".join([v for v in values if v]))
        parts.append(b"".join(headers))
    return parts


def _json_source_batch(number, items, position):
    records = []
    for item in items:
        if type(item) is tuple:
            key, value, header = item[0], item[1], item[2] if len(item) > 2 else None
            records.append(_json_record(key, value, header))
        elif isinstance(item, Record):
            records.append(_json_record(item.key, item.value, item._headers))
        elif isinstance(item, DeadLetter):
            record = _json_record(None, item.raw, item.headers)
            record["error"] = item.message
            records.append(record)
    return {"type": "records", "batch": number, "position": None if position is None else str(position), "records": records}


def _json_record(key, value, headers):
    out = {}
    for name, data in (("key", key), ("value", value)):
        if isinstance(data, (bytes, bytearray)):
            try:
                out[name] = data.decode()
            except UnicodeDecodeError:
                import base64
                out[name + "_base64"] = base64.b64encode(data).decode()
        else:
            out[name] = data
    if headers:
        out["headers"] = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in headers.items()}
    return out


def _run_source(source, channel, opening):
    try:
        source.open(opening.get("options") or {}, opening.get("position"))
    except Exception as error:
        traceback.print_exc()
        _error(channel, error)
        os._exit(1)
    channel.send({"type": "ready"})
    max_records = int(opening.get("max_batch_records") or 10000)
    max_bytes = int(opening.get("max_batch_bytes") or (1 << 20))
    credit = 0
    number = 0

    def handle(message):
        nonlocal credit
        if message is None:
            source.close()
            sys.stderr.flush()
            os._exit(0)
        kind, body = message
        kind_name = body.get("type") if kind == "control" else "records"
        if kind_name == "request":
            credit += int(body.get("batches", 0))
        elif kind_name == "ack":
            source.acknowledged(body.get("position"))
        elif kind_name == "stop":
            source.close()
            os._exit(0)
        else:
            raise ProtocolError(f"a {kind_name!r} message where request or ack was expected")

    for batch in source.batches(max_records, max_bytes):
        if isinstance(batch, list):
            batch = Batch(batch, source.position())
        while credit == 0:
            handle(channel.receive())
        number += 1
        if channel.framing == "jsonl":
            channel.send_records(None, 0, lambda: _json_source_batch(number, batch.records, batch.position))
        else:
            parts = _encode_source_batch(number, batch.records, batch.position)
            channel.send_records(parts, sum(map(len, parts)), None)
        credit -= 1
    channel.send({"type": "end"})
    while True:  # acknowledgements, until Sluice closes the input
        handle(channel.receive())


# --- sinks ---------------------------------------------------------------------------------------


def _decode_sink_batch(body):
    """The records of a binary records frame, as Record objects, in order."""
    _, number, position_length = struct.unpack_from("<IQI", body, 0)
    at = 16 + position_length
    (group_count,) = struct.unpack_from("<I", body, at)
    at += 4
    records = []
    append = records.append
    for _ in range(group_count):
        (topic_length,) = struct.unpack_from("<H", body, at)
        topic = bytes(body[at + 2:at + 2 + topic_length]).decode()
        at += 2 + topic_length
        partition, kind, n = struct.unpack_from("<iBI", body, at)
        at += 9
        offsets = _ints("q", body[at:at + 8 * n])
        timestamps = _ints("q", body[at + 8 * n:at + 16 * n])
        key_lengths = _ints("i", body[at + 16 * n:at + 20 * n])
        value_lengths = _ints("i", body[at + 20 * n:at + 24 * n])
        header_lengths = _ints("I", body[at + 24 * n:at + 28 * n])
        at += 28 * n
        data = bytes(body[at:])
        k = 0
        v = sum(length for length in key_lengths if length > 0)
        h = v + sum(length for length in value_lengths if length > 0)
        for i in range(n):
            record = Record(None, None, None, timestamps[i], topic, partition, offsets[i])
            length = key_lengths[i]
            if length >= 0:
                record.key = data[k:k + length]
                k += length
            length = value_lengths[i]
            if length >= 0:
                record.value = data[v:v + length]
                v += length
            length = header_lengths[i]
            if length:
                record._raw_headers = data[h:h + length]
                h += length
            append(record)
        at += h
    return number, records


def _decode_json_batch(message):
    import base64
    records = []
    for item in message.get("records", []):
        record = Record(None, None, None, item.get("timestamp", -1), item.get("topic", ""), item.get("partition", -1),
                        item.get("offset", -1))
        for name in ("key", "value"):
            if name + "_base64" in item:
                setattr(record, name, base64.b64decode(item[name + "_base64"]))
            elif item.get(name) is not None:
                setattr(record, name, item[name].encode())
        record._headers = {k: (None if v is None else v.encode()) for k, v in (item.get("headers") or {}).items()}
        records.append(record)
    return message.get("batch", 0), records


def _partitions(message):
    return {(p["topic"], int(p["partition"])): int(p["offset"]) for p in message.get("partitions", [])}


def _run_sink(sink, channel, opening):
    context = {k: opening.get(k) for k in ("name", "task", "group", "topics", "schemas")}
    try:
        sink.open(opening.get("options") or {}, context)
    except Exception as error:
        traceback.print_exc()
        _error(channel, error)
        os._exit(1)
    channel.send({"type": "ready"})
    skip_below = {}  # (topic, partition) -> the first offset the sink does not hold yet
    while True:
        message = channel.receive()
        if message is None:
            os._exit(0)
        kind, body = message
        if kind == "records":
            number, records = _decode_json_batch(body) if channel.framing == "jsonl" else _decode_sink_batch(body)
            total = len(records)
            if skip_below:
                records = [r for r in records if r.offset >= skip_below.get((r.topic, r.partition), -1)]
            try:
                failures = sink.write_batch(records) or []
            except (TransientError, FatalError) as error:
                _error(channel, error)
                continue
            failed = []
            for record, error in failures:
                entry = {"topic": record.topic, "partition": record.partition, "offset": record.offset,
                         "class": "record", "message": str(error)}
                if getattr(error, "code", None):
                    entry["code"] = error.code
                failed.append(entry)
            reply = {"type": "written", "batch": number, "written": total - len(failed), "failed": failed}
            if sink.durable_writes:
                reply["durable"] = True
            channel.send(reply)
            continue
        kind_name = body.get("type")
        try:
            if kind_name == "assign":
                given = _partitions(body)
                stored = sink.assign(given) or {}
                for tp in given:
                    skip_below[tp] = stored.get(tp, -1)
                channel.send({"type": "ok"})
            elif kind_name == "revoke":
                taken = _partitions(body)
                sink.revoke(taken)
                for tp in taken:
                    skip_below.pop(tp, None)
                channel.send({"type": "ok"})
            elif kind_name == "flush":
                sink.flush()
                channel.send({"type": "flushed"})
            elif kind_name == "abort":
                sink.abort()
                channel.send({"type": "ok"})
            elif kind_name == "stop":
                sink.stop()
                channel.send({"type": "stopped"})
            elif kind_name == "read_back":
                ids = sink.read_back()
                if ids is None:
                    channel.send({"type": "error", "class": "fatal", "message": "read_back is not offered"})
                else:
                    channel.send({"type": "read_back", "ids": sorted(int(i) for i in ids)})
            elif kind_name == "error":
                print(f"{sink.name}: Sluice says: {body.get('message')}", file=sys.stderr)
                os._exit(3)
            else:
                raise ProtocolError(f"an unexpected {kind_name!r} message")
        except (TransientError, FatalError) as error:
            _error(channel, error)
