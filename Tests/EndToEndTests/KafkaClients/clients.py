#!/usr/bin/env python3
"""Kafka clients against `sluice daemon`, for KafkaProtocolTests: each command prints one JSON line of
what it saw, and exits 0 unless something went wrong. Run by Debian's python3 (confluent-kafka 1.7 on
librdkafka 2.0.2, kafka-python 2.0.2) and by the test venv's (confluent-kafka 2.16, kafka-python 3.0)."""
import json
import sys
import threading
import time


def emit(**fields):
    print(json.dumps(fields), flush=True)


def produce_each(p, topic, count, done, value="value-%d", poll_every=5000, stop=lambda: False):
    """Produces keys 0..count-1 (waiting while the producer's queue is full) until `stop()`."""
    for i in range(count):
        if stop():
            return
        while not stop():
            try:
                p.produce(topic, key=str(i), value=value % i, on_delivery=done)
                break
            except BufferError:
                p.poll(0.05)
        if i % poll_every == 0:
            p.poll(0.001)


def confluent_produce(bootstrap, topic, count, idempotent, compression="none"):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": idempotent, "linger.ms": 5,
                  "compression.type": compression, "acks": "all"})
    offsets, errors = {}, []

    def done(err, msg):
        if err:
            errors.append(str(err))
        else:
            offsets.setdefault(msg.partition(), []).append(msg.offset())
    produce_each(p, topic, count, done)
    left = p.flush(60)
    contiguous = all(sorted(v) == list(range(min(v), min(v) + len(v))) for v in offsets.values())
    emit(delivered=sum(len(v) for v in offsets.values()), errors=errors[:3], left=left, contiguous=contiguous)


def confluent_consume(bootstrap, topic, group, limit, commit):
    """Reads up to `limit` records with manual, synchronous commits (every 1,000 records and after the
    last one read, when `commit`), then closes: a consumer that stops and is started again."""
    from confluent_kafka import Consumer, KafkaError, KafkaException

    def commit_read():
        try:
            c.commit(asynchronous=False)
        except KafkaException as error:
            if error.args[0].code() != KafkaError._NO_OFFSET:  # nothing read since the last commit
                raise
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    seen = []
    idle = time.time()
    while len(seen) < limit and time.time() - idle < 8:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        idle = time.time()
        seen.append(int(m.key()))
        if commit and len(seen) % 1000 == 0:
            commit_read()
    if commit:
        commit_read()  # the position of every partition: what was read
    c.close()
    emit(keys=seen)


def confluent_seek(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "seeker", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 10)])
    first = None
    while first is None:
        m = c.poll(2)
        if m is not None and not m.error():
            first = m.offset()
    c.seek(TopicPartition(topic, 0, 3))
    after = None
    deadline = time.time() + 10
    while after is None and time.time() < deadline:
        m = c.poll(1)
        if m is not None and not m.error():
            after = m.offset()
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    # By time: from the epoch, the first record; from tomorrow, none (-1).
    by_time = [c.offsets_for_times([TopicPartition(topic, 0, at)], timeout=5)[0].offset
               for at in [0, int(time.time() * 1000) + 86400000]]
    c.close()
    emit(first=first, after_seek=after, low=low, high=high, by_time=by_time)


def create_with_configs(bootstrap, topic):
    """Creates `topic` with Kafka topic configs, and `topic`-bad with a config Kafka does not have."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    results = {}
    for name, configs in [(topic, {"retention.ms": "3600000", "segment.bytes": "1048576",
                                   "min.insync.replicas": "1"}),
                          (topic + "-bad", {"retention.mss": "1"})]:
        future = admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1, config=configs)],
                                     request_timeout=10)[name]
        try:
            future.result()
            results[name] = "created"
        except Exception as e:  # the KafkaException of the topic's error
            results[name] = str(e.args[0].str() if hasattr(e.args[0], "str") else e)
    emit(**results)


def kafka_python_group(bootstrap, topic, partitions):
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    KafkaAdminClient(bootstrap_servers=bootstrap).create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    p = KafkaProducer(bootstrap_servers=bootstrap)
    for i in range(3000):
        p.send(topic, key=str(i).encode(), value=b"v%d" % i)
    p.flush()
    stop = [False] * 3
    assigned = [[], [], []]

    def run(n):
        c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="group-" + topic,
                          auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=500,
                          max_poll_interval_ms=10000)
        while not stop[n]:
            c.poll(200)
            assigned[n] = sorted(tp.partition for tp in c.assignment())
        c.close()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while time.time() < deadline and sorted(len(a) for a in assigned) != [2, 2, 2]:
        time.sleep(0.2)
    three = [list(a) for a in assigned]
    stop[2] = True
    threads[2].join()
    started = time.time()
    while time.time() < started + 60 and sorted(len(a) for a in assigned[:2]) != [3, 3]:
        time.sleep(0.2)
    two = [list(a) for a in assigned[:2]]
    took = time.time() - started
    stop[0] = stop[1] = True
    for t in threads[:2]:
        t.join()
    emit(three=three, two=two, seconds=took)


def acked(bootstrap, topic, count, log_path):
    """Produces until a delivery fails, writing each acknowledged record (key partition offset) to
    `log_path`."""
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2, "message.timeout.ms": 4000,
                  "enable.idempotence": True})
    log = open(log_path, "w", buffering=1)
    failed = []

    def done(err, msg):
        if err:
            failed.append(err)
        else:
            log.write("%s %d %d\n" % (msg.key().decode(), msg.partition(), msg.offset()))
    produce_each(p, topic, count, done, value="v%d", poll_every=200, stop=lambda: bool(failed))  # stop once the broker is gone
    p.flush(10)
    emit(done=True)


_CRC32C = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def varint(n):
    n = (n << 1) ^ (n >> 63)  # zigzag
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def record_batch(values, pid=-1, epoch=-1, sequence=-1, attributes=0, crc_ok=True, count=None, overrun=0):
    """A v2 record batch of `values` (no keys), as a producer builds it; `count` says another record
    count in the header, `overrun` makes each record's length say that many bytes more."""
    import struct
    records = b""
    for i, value in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value + varint(0)
        records += varint(len(body) + overrun) + body
    now = int(time.time() * 1000)
    count = len(values) if count is None else count
    after_crc = struct.pack(">hiqqqhii", attributes, count - 1, now, now, pid, epoch, sequence,
                            count) + records
    crc = crc32c(after_crc) ^ (0 if crc_ok else 1)
    return struct.pack(">qiibI", 0, 4 + 1 + 4 + len(after_crc), 0, 2, crc) + after_crc


def produce_checks(bootstrap):
    """Produce v3 by hand: a good batch, a bad CRC, a bad length, a transactional batch, an idempotent
    producer's repeat and gap, and acks=0."""
    import socket
    import struct
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(10)
    correlation = [0]

    def send(api, version, body):
        correlation[0] += 1
        header = struct.pack(">hhih", api, version, correlation[0], 1) + b"p"
        sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
        return correlation[0]

    def answer():
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack(">i", data[:4])[0]:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("closed")
            data += chunk
        return data[4:]

    def produce(batch, acks=1, topic=b"raw"):
        body = struct.pack(">hhii", -1, acks, 5000, 1) + struct.pack(">h", len(topic)) + topic
        body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
        sent = send(0, 3, body)
        if acks == 0:
            return sent, None, None
        data = answer()
        got, = struct.unpack_from(">i", data, 0)
        name_length, = struct.unpack_from(">h", data, 8)
        at = 10 + name_length + 4
        _, error, base = struct.unpack_from(">ihq", data, at)
        assert got == sent, "answers out of order"
        return got, error, base

    results = {}
    results["good"] = produce(record_batch([b"a", b"b"]))[1:]
    results["bad_crc"] = produce(record_batch([b"c"], crc_ok=False))[1]
    results["bad_length"] = produce(record_batch([b"d"])[:-3])[1]
    results["transactional"] = produce(record_batch([b"e"], attributes=0x10))[1]
    # Batches whose CRC holds but whose records do not match the header are refused, not stored.
    results["not_gzip"] = produce(record_batch([b"e1"], attributes=1))[1]
    results["fewer_records"] = produce(record_batch([b"e2"], count=2))[1]
    results["record_overrun"] = produce(record_batch([b"e3"], overrun=40))[1]
    results["internal_topic"] = produce(record_batch([b"e4"]), topic=b"__consumer_offsets")[1]
    send(22, 1, struct.pack(">hi", -1, 60000))
    data = answer()
    _, _, error, pid, epoch = struct.unpack_from(">iihqh", data, 0)
    results["init_producer_id"] = [error, int(pid >= 0)]
    first = produce(record_batch([b"f", b"g"], pid=pid, epoch=epoch, sequence=0))[1:]
    again = produce(record_batch([b"f", b"g"], pid=pid, epoch=epoch, sequence=0))[1:]
    results["idempotent"] = [first, again]
    results["gap"] = produce(record_batch([b"h"], pid=pid, epoch=epoch, sequence=5))[1]
    produce(record_batch([b"i"]), acks=0)
    results["after_acks0"] = produce(record_batch([b"j"]))[1:]
    sock.close()
    emit(**results)


def acks0_then_close(bootstrap, topic, requests, records):
    """`requests` Produce requests with acks=0 of `records` records each, sent at once on one
    connection, which is closed right after: the daemon still stores them all."""
    import socket
    import struct
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    name = topic.encode()
    data = b""
    for r in range(requests):
        batch = record_batch([b"r%d-%d" % (r, i) for i in range(records)])
        body = struct.pack(">hhii", -1, 0, 5000, 1) + struct.pack(">h", len(name)) + name
        body += struct.pack(">ii", 1, 0) + struct.pack(">i", len(batch)) + batch
        header = struct.pack(">hhih", 0, 3, r + 1, 1) + b"p"
        data += struct.pack(">i", len(header) + len(body)) + header + body
    sock.sendall(data)
    sock.close()
    emit(sent=requests * records)


def forged_log_line(bootstrap):
    """A transactional id with a line break in it, which the daemon logs when it refuses it."""
    from confluent_kafka import KafkaException, Producer
    p = Producer({"bootstrap.servers": bootstrap,
                  "transactional.id": "a\n2026-12-03T16:00:00.000Z notice forged=yes"})
    try:
        p.init_transactions(10)
        emit(refused=False)
    except KafkaException as e:
        emit(refused=True, error=str(e))


def abuse(bootstrap):
    """Bad clients next to a good one; what each got."""
    import os
    import socket
    import struct
    host, port = bootstrap.rsplit(":", 1)
    address = (host, int(port))

    def request(api, version, body=b"", correlation=1):
        header = struct.pack(">hhih", api, version, correlation, 4) + b"test"
        return struct.pack(">i", len(header) + len(body)) + header + body

    def read_answer(sock):
        sock.settimeout(5)
        data = b""
        while len(data) < 4:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        size = struct.unpack(">i", data[:4])[0]
        while len(data) < 4 + size:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data[4:4 + size]

    def closed_by_daemon(payload):
        sock = socket.create_connection(address)
        sock.sendall(payload)
        sock.settimeout(5)
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return True  # the daemon closed it
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        finally:
            sock.close()

    results = {}
    good = socket.create_connection(address)
    good.sendall(request(18, 0))
    answer = read_answer(good)
    results["good_first"] = answer is not None
    if answer:  # correlation id, error code, [api key, min, max]
        count = struct.unpack_from(">i", answer, 6)[0]
        ranges = [struct.unpack_from(">hhh", answer, 10 + 6 * n) for n in range(count)]
        results["ranges"] = {str(key): [low, high] for key, low, high in ranges}
    results["garbage"] = closed_by_daemon(os.urandom(3000))
    results["two_gigabytes"] = closed_by_daemon(struct.pack(">i", 0x7FFFFFF0) + b"x" * 100)
    results["negative_length"] = closed_by_daemon(struct.pack(">i", -5))
    results["unknown_api"] = closed_by_daemon(request(999, 0))
    results["unknown_version"] = closed_by_daemon(request(3, 99))
    results["cut_header"] = closed_by_daemon(struct.pack(">i", 6) + b"\x00\x03\x00\x01\x00\x00")
    results["bad_body"] = closed_by_daemon(request(3, 1, struct.pack(">i", 1000000)))
    # Cut frames and clients that vanish, mid-frame and mid-request (a long-polling fetch).
    for payload in [struct.pack(">i", 100) + b"abc", request(1, 11, struct.pack(">iiiiibii", -1, 5000, 1, 1 << 20, 0, 0, -1, 1)
                    + struct.pack(">h", 1) + b"t" + struct.pack(">iiiqqi", 1, 0, 0, 0, 0, 1 << 20) + struct.pack(">ih", 0, 0))]:
        sock = socket.create_connection(address)
        sock.sendall(payload)
        sock.close()
    many = [socket.create_connection(address) for _ in range(200)]
    for n, sock in enumerate(many):
        sock.sendall(request(18, 0, correlation=n))
    results["many_answered"] = sum(1 for sock in many if read_answer(sock) is not None)
    for sock in many:
        sock.close()
    good.sendall(request(3, 1, struct.pack(">i", -1), correlation=2))
    results["good_last"] = read_answer(good) is not None
    good.close()
    emit(**results)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        confluent_produce(args[0], args[1], int(args[2]), args[3] == "idempotent", args[4] if len(args) > 4 else "none")
    elif command == "consume":
        confluent_consume(args[0], args[1], args[2], int(args[3]), args[4] == "commit")
    elif command == "seek":
        confluent_seek(args[0], args[1])
    elif command == "create-with-configs":
        create_with_configs(args[0], args[1])
    elif command == "group":
        kafka_python_group(args[0], args[1], int(args[2]))
    elif command == "acked":
        acked(args[0], args[1], int(args[2]), args[3])
    elif command == "produce-checks":
        produce_checks(args[0])
    elif command == "acks0-close":
        acks0_then_close(args[0], args[1], int(args[2]), int(args[3]))
    elif command == "forged-log-line":
        forged_log_line(args[0])
    elif command == "abuse":
        abuse(args[0])
    elif command == "versions":
        import confluent_kafka
        import kafka
        emit(confluent=confluent_kafka.__version__, librdkafka=confluent_kafka.libversion()[0],
             kafka_python=kafka.__version__)
