"""A group consumer run as a subprocess by test_groups.py, so a test can
SIGKILL it. Prints one JSON object per line on stdout:

  {"ev": "assign", "parts": [..]}   the whole current assignment after a change
  {"ev": "revoke", "parts": [..]}   partitions taken away
  {"ev": "msg", "p": p, "o": o, "v": value}
  {"ev": "commit", "p": p, "o": next offset}   after a successful commit

usage: group_consumer.py CLIENT BOOTSTRAP TOPIC GROUP [--instance ID]
       [--assignor NAME] [--session-ms N]
CLIENT is confluent, kafka-python or aiokafka.
"""

import argparse
import json
import sys


def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def run_confluent(a):
    import confluent_kafka as ck

    conf = {
        "bootstrap.servers": a.bootstrap,
        "broker.address.family": "v4",
        "group.id": a.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": a.session_ms,
        "heartbeat.interval.ms": 500,
        "partition.assignment.strategy": a.assignor or "range",
    }
    if a.instance:
        conf["group.instance.id"] = a.instance
    c = ck.Consumer(conf)
    current = set()
    cooperative = c.rebalance_protocol() == "COOPERATIVE" if hasattr(c, "rebalance_protocol") else False

    def on_assign(consumer, parts):
        current.update(p.partition for p in parts)
        out(ev="assign", parts=sorted(current))

    def on_revoke(consumer, parts):
        revoked = {p.partition for p in parts}
        current.difference_update(revoked)
        out(ev="revoke", parts=sorted(revoked))

    c.subscribe([a.topic], on_assign=on_assign, on_revoke=on_revoke)
    del cooperative
    while True:
        msgs = c.consume(num_messages=100, timeout=0.2)
        last = {}
        for m in msgs:
            if m.error():
                continue
            out(ev="msg", p=m.partition(), o=m.offset(), v=m.value().decode())
            last[m.partition()] = m.offset() + 1
        if last:
            try:
                c.commit(
                    offsets=[ck.TopicPartition(a.topic, p, o) for p, o in last.items()],
                    asynchronous=False,
                )
                for p, o in last.items():
                    out(ev="commit", p=p, o=o)
            except ck.KafkaException as e:
                out(ev="commit-failed", error=str(e))


def run_kafka_python(a):
    from kafka import KafkaConsumer, TopicPartition
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
    from kafka.structs import OffsetAndMetadata

    c = KafkaConsumer(
        bootstrap_servers=a.bootstrap,
        group_id=a.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=a.session_ms,
        heartbeat_interval_ms=500,
    )

    class L(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            out(ev="revoke", parts=sorted(tp.partition for tp in revoked))

        def on_partitions_assigned(self, assigned):
            out(ev="assign", parts=sorted(tp.partition for tp in assigned))

    c.subscribe([a.topic], listener=L())
    while True:
        batches = c.poll(timeout_ms=200)
        last = {}
        for tp, msgs in batches.items():
            for m in msgs:
                out(ev="msg", p=m.partition, o=m.offset, v=m.value.decode())
                last[m.partition] = m.offset + 1
        if last:
            try:
                c.commit({TopicPartition(a.topic, p): OffsetAndMetadata(o, "") for p, o in last.items()})
                for p, o in last.items():
                    out(ev="commit", p=p, o=o)
            except Exception as e:  # noqa: BLE001 - reported to the test
                out(ev="commit-failed", error=repr(e))


def run_aiokafka(a):
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    class L(ConsumerRebalanceListener):
        async def on_partitions_revoked(self, revoked):
            out(ev="revoke", parts=sorted(tp.partition for tp in revoked))

        async def on_partitions_assigned(self, assigned):
            out(ev="assign", parts=sorted(tp.partition for tp in assigned))

    async def main():
        c = AIOKafkaConsumer(
            bootstrap_servers=a.bootstrap,
            group_id=a.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=a.session_ms,
            heartbeat_interval_ms=500,
        )
        await c.start()
        c.subscribe([a.topic], listener=L())
        while True:
            batches = await c.getmany(timeout_ms=200)
            last = {}
            for tp, msgs in batches.items():
                for m in msgs:
                    out(ev="msg", p=m.partition, o=m.offset, v=m.value.decode())
                    last[m.partition] = m.offset + 1
            if last:
                try:
                    await c.commit({TopicPartition(a.topic, p): OffsetAndMetadata(o, "") for p, o in last.items()})
                    for p, o in last.items():
                        out(ev="commit", p=p, o=o)
                except Exception as e:  # noqa: BLE001 - reported to the test
                    out(ev="commit-failed", error=repr(e))

    asyncio.run(main())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client")
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("group")
    ap.add_argument("--instance")
    ap.add_argument("--assignor")
    ap.add_argument("--session-ms", type=int, default=6000)
    a = ap.parse_args()
    {"confluent": run_confluent, "kafka-python": run_kafka_python, "aiokafka": run_aiokafka}[a.client](a)


if __name__ == "__main__":
    main()
