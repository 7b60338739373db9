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
    for i in range(count):
        while True:
            try:
                p.produce(topic, key=str(i), value="value-%d" % i, on_delivery=done)
                break
            except BufferError:
                p.poll(0.05)
        if i % 5000 == 0:
            p.poll(0)
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
    c.close()
    emit(first=first, after_seek=after, low=low, high=high)


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


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "produce":
        confluent_produce(args[0], args[1], int(args[2]), args[3] == "idempotent", args[4] if len(args) > 4 else "none")
    elif command == "consume":
        confluent_consume(args[0], args[1], args[2], int(args[3]), args[4] == "commit")
    elif command == "seek":
        confluent_seek(args[0], args[1])
    elif command == "group":
        kafka_python_group(args[0], args[1], int(args[2]))
    elif command == "versions":
        import confluent_kafka
        import kafka
        emit(confluent=confluent_kafka.__version__, librdkafka=confluent_kafka.libversion()[0],
             kafka_python=kafka.__version__)
