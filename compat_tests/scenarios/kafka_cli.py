"""Apache Kafka's command-line tools (client "kafka-cli", see
compat_tests/clients/kafka_cli.py) against the target:

- kafka-consumer-groups: a group that kafka-console-consumer filled and
  left; --list, --describe (offsets and lag, before and after more records),
  --describe --state, --reset-offsets --to-earliest --execute, --delete, and
  --describe of the deleted group. Their output tables are compared whole,
  with the topic, group and coordinator port replaced by placeholders.
- kafka-producer-perf-test then kafka-consumer-perf-test on a fixed
  workload (2,000 records of 100 bytes, acks=all): the counts they print,
  the log end offsets, and no error.
- kafka-verifiable-producer then kafka-verifiable-consumer (classic and
  KIP-848 consumer protocols): from their JSON events, every acked record
  consumed exactly once and the committed offsets one past the last acked
  offset of each partition.
- kafka-dump-log on the target's own segment file after the client under
  test wrote a fixed workload (every client): a plain and a gzip batch, an
  idempotent producer's batch and a committed transaction (batch and
  marker) from the clients that can write them.

The perf and verifiable tools' output is partly timing (rates, latencies,
which partition the sticky partitioner picked): the results keep only
what must not vary.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from compat_tests.clients import Unsupported
from compat_tests.clients.kafka_cli import (CONSOLE_CONSUMER, CONSUMER_GROUPS, CONSUMER_PERF, DUMP_LOG, PRODUCER_PERF, VERIFIABLE_CONSUMER,
                                            VERIFIABLE_PRODUCER, KafkaCliAdapter, missing_tools, run)
from compat_tests.scenarios import Context, Scenario, ScenarioFailed

PERF_RECORDS = 2000
PERF_RECORD_SIZE = 100
VERIFIABLE_RECORDS = 300


def _cli(ctx: Context) -> KafkaCliAdapter:
    if not isinstance(ctx.client, KafkaCliAdapter):
        raise Unsupported("a scenario of Kafka's command-line tools: it runs as client kafka-cli")
    return ctx.client


def _ok(result: Any, what: str) -> str:
    if result.returncode != 0:
        raise ScenarioFailed(f"{what} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout


def _rows(text: str, names: dict[str, str]) -> list[list[str]]:
    """Non-empty output lines split on whitespace, with the given names (topic, group, address) replaced."""
    for name, placeholder in names.items():
        text = text.replace(name, placeholder)
    return [line.split() for line in text.splitlines() if line.strip()]


# -- kafka-consumer-groups ------------------------------------------------------------

def consumer_groups(ctx: Context) -> dict[str, Any]:
    cli = _cli(ctx)
    topic = ctx.new_topic(partitions=2)
    group = ctx.topic_name("group")
    ctx.setup.produce(topic, [{"key": f"k{i}", "value": "v", "partition": 0 if i < 3 else 1} for i in range(5)])
    _ok(cli.tool(CONSOLE_CONSUMER, "--topic", topic, "--group", group, "--from-beginning", "--max-messages", "5",
                 "--timeout-ms", "30000"), "kafka-console-consumer --group")
    names = {group: "GROUP", topic: "TOPIC", cli.bootstrap: "HOST:PORT"}

    def groups(*args: str) -> list[list[str]]:
        """The tool's stdout as rows; its note on stderr that the group has no members as a first row."""
        result = cli.tool(CONSUMER_GROUPS, *args)
        rows = _rows(_ok(result, f"kafka-consumer-groups {' '.join(args)}"), names)
        return ([empty] if f"Consumer group '{group}' has no active members." in result.stderr else []) + rows

    header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
    empty = ["(stderr)", "Consumer", "group", "'GROUP'", "has", "no", "active", "members."]
    out: dict[str, Any] = {}
    out["list"] = ["GROUP"] in groups("--list")
    ctx.expect_equal("--list shows the group", out["list"], True)
    out["describe"] = groups("--describe", "--group", group)
    ctx.expect_equal("--describe", out["describe"], [empty, header, ["GROUP", "TOPIC", "0", "3", "3", "0", "-", "-", "-"],
                                                      ["GROUP", "TOPIC", "1", "2", "2", "0", "-", "-", "-"]])
    ctx.setup.produce(topic, [{"key": "more", "value": "v", "partition": 0} for _ in range(2)])
    out["describe_lag"] = groups("--describe", "--group", group)
    ctx.expect_equal("--describe with lag", out["describe_lag"][2], ["GROUP", "TOPIC", "0", "3", "5", "2", "-", "-", "-"])
    out["state"] = groups("--describe", "--group", group, "--state")
    ctx.expect_equal("--describe --state", out["state"], [
        empty, ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"], ["GROUP", "HOST:PORT", "(1)", "-", "Empty", "0"]])
    # The tool prints the reset partitions in hash-map order, which depends on the topic's name: sorted here.
    reset = groups("--reset-offsets", "--group", group, "--topic", topic, "--to-earliest", "--execute")
    out["reset"] = reset[:1] + sorted(reset[1:])
    ctx.expect_equal("--reset-offsets --to-earliest --execute", out["reset"], [
        ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], ["GROUP", "TOPIC", "0", "0"], ["GROUP", "TOPIC", "1", "0"]])
    out["after_reset"] = groups("--describe", "--group", group)
    ctx.expect_equal("--describe after the reset", out["after_reset"][2:], [["GROUP", "TOPIC", "0", "0", "5", "5", "-", "-", "-"],
                                                                            ["GROUP", "TOPIC", "1", "0", "2", "2", "-", "-", "-"]])
    out["delete"] = groups("--delete", "--group", group)
    ctx.expect_equal("--delete", out["delete"], [["Deletion", "of", "requested", "consumer", "groups", "('GROUP')", "was", "successful."]])
    out["describe_deleted"] = groups("--describe", "--group", group)
    ctx.expect_equal("--describe of a deleted group", out["describe_deleted"], [
        ["Error:", "Executing", "consumer", "group", "command", "failed", "due", "to",
         "org.apache.kafka.common.errors.GroupIdNotFoundException:", "Group", "GROUP", "not", "found."]])
    return out


# -- perf tests --------------------------------------------------------------------------

def perf_tests(ctx: Context) -> dict[str, Any]:
    cli = _cli(ctx)
    topic = ctx.new_topic(partitions=3)
    produced = cli.tool(PRODUCER_PERF, "--topic", topic, "--num-records", str(PERF_RECORDS), "--record-size", str(PERF_RECORD_SIZE),
                        "--throughput", "-1", "--command-property", "acks=all")
    summary = re.search(r"^(\d+) records sent, .* avg latency", _ok(produced, "kafka-producer-perf-test"), re.M)
    sent = int(summary[1]) if summary else None
    ctx.expect_equal("records the producer perf test sent", sent, PERF_RECORDS)
    ends = ctx.setup.offsets(topic, [0, 1, 2], [])["end"]
    ctx.expect_equal("records in the log", sum(ends.values()), PERF_RECORDS)
    consumed = cli.tool(CONSUMER_PERF, "--topic", topic, "--num-records", str(PERF_RECORDS), "--timeout", "30000")
    lines = _ok(consumed, "kafka-consumer-perf-test").splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if header is None or header + 1 >= len(lines):
        raise ScenarioFailed(f"no result line from kafka-consumer-perf-test:\n{consumed.stdout}\n{consumed.stderr}")
    row = dict(zip([c.strip() for c in lines[header].split(",")], [c.strip() for c in lines[header + 1].split(",")]))
    result = {"sent": sent, "in_log": sum(ends.values()), "consumed": int(row["data.consumed.in.nMsg"]),
              "consumed_mb": row["data.consumed.in.MB"]}
    ctx.expect_equal("consumer perf test", [result["consumed"], result["consumed_mb"]],
                     [PERF_RECORDS, f"{PERF_RECORDS * PERF_RECORD_SIZE / 1024 / 1024:.4f}"])
    errors = [line for line in (produced.stderr + consumed.stderr).splitlines() if "ERROR" in line or "Exception" in line]
    ctx.expect_equal("errors logged", errors, [])
    return result


# -- verifiable producer and consumer ---------------------------------------------------

def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def verifiable(ctx: Context) -> dict[str, Any]:
    cli = _cli(ctx)
    out: dict[str, Any] = {}
    for protocol in ("classic", "consumer"):
        topic = ctx.new_topic(partitions=3, tag=protocol)
        produced = _events(_ok(cli.tool(VERIFIABLE_PRODUCER, "--topic", topic, "--max-messages", str(VERIFIABLE_RECORDS), "--acks", "-1"),
                               "kafka-verifiable-producer"))
        acked = sorted((e["partition"], e["offset"], e["value"]) for e in produced if e["name"] == "producer_send_success")
        failed = [e for e in produced if e["name"] == "producer_send_error"]
        tool_data = next((e for e in produced if e["name"] == "tool_data"), {})
        ctx.expect_equal(f"{protocol}: producer sent and acked", [tool_data.get("sent"), tool_data.get("acked"), len(acked), failed],
                         [VERIFIABLE_RECORDS, VERIFIABLE_RECORDS, VERIFIABLE_RECORDS, []])
        consumed_events = _events(_ok(cli.tool(VERIFIABLE_CONSUMER, "--topic", topic, "--group-id", ctx.topic_name(f"group-{protocol}"),
                                               "--group-protocol", protocol, "--max-messages", str(VERIFIABLE_RECORDS),
                                               "--reset-policy", "earliest", "--verbose"), "kafka-verifiable-consumer"))
        consumed = sorted((e["partition"], e["offset"], e["value"]) for e in consumed_events if e["name"] == "record_data")
        ctx.expect_equal(f"{protocol}: every acked record consumed exactly once", consumed, acked)
        committed: dict[int, int] = {}
        for event in consumed_events:
            if event["name"] == "offsets_committed":
                ctx.expect_equal(f"{protocol}: commit succeeded", event["success"], True)
                committed.update({o["partition"]: o["offset"] for o in event["offsets"]})
        last_acked: dict[int, int] = {}
        for partition, offset, _ in acked:
            last_acked[partition] = max(offset, last_acked.get(partition, -1))
        ctx.expect_equal(f"{protocol}: committed offsets", committed, {p: o + 1 for p, o in last_acked.items()})
        out[protocol] = {"acked": len(acked), "consumed": len(consumed), "exactly_once": consumed == acked,
                         "committed_after_last_acked": True}
    return out


# -- kafka-dump-log ------------------------------------------------------------------------

# Values that compress: franz-go sends a batch uncompressed when the codec does not make it smaller.
PAD = "x" * 64
DUMP_RECORDS = [{"key": f"k{i}", "value": f"value {i} {PAD}", "headers": [["h", "x"]]} for i in range(5)]
# What legitimately differs between two brokers given the same client and records: times (the
# client's clock), the producer id an idempotent producer was given, and what depends on them
# (the batch's crc, and its size and position: timestamp deltas are varints).
VOLATILE = {"CreateTime": "<time>", "producerId": "<producer-id>", "crc": "<crc>", "size": "<size>", "position": "<position>"}
BATCH_ATTRIBUTES = {"magic", "compresscodec", "producerId", "producerEpoch", "partitionLeaderEpoch", "isTransactional", "isControl",
                    "deleteHorizonMs", "isvalid"}


def _dump_fields(line: str) -> dict[str, str]:
    """A kafka-dump-log line as field -> value ("key: value" pairs; a record's payload runs to the end)."""
    head, _, payload = line.partition(" payload: ")
    fields = dict(re.findall(r"(\w+): (\[[^\]]*\]|\S+)", head.lstrip("| ")))
    if payload or line.endswith(" payload:"):
        fields["payload"] = payload
    for name, placeholder in VOLATILE.items():
        if name in fields and not (name == "producerId" and fields[name] == "-1"):
            fields[name] = placeholder
    return fields


def dump_log(ctx: Context) -> dict[str, Any]:
    if ctx.log_dir is None:
        raise Unsupported("kafka-dump-log reads the broker's files: only for the targets the runner starts")
    if missing_tools():
        raise Unsupported(f"kafka-dump-log cannot run: {missing_tools()}")
    topic = ctx.new_topic()
    workload = ["none", "gzip"]
    for codec in workload:
        ctx.client.produce(topic, DUMP_RECORDS, compression=codec)
    # Batches with a producer id, sequences and epoch, and a commit marker, from clients that write them.
    try:
        ctx.client.produce(topic, DUMP_RECORDS, config=ctx.client.idempotent_config())
        workload.append("idempotent")
    except Unsupported:
        pass
    try:
        ctx.client.produce_transaction(topic, [{**r, "partition": 0} for r in DUMP_RECORDS], transactional_id=ctx.topic_name("txn"),
                                       commit=True)
        workload.append("transaction")
    except Unsupported:
        pass
    # The commit marker is written after EndTxn is answered (Kafka's coordinator sends
    # WriteTxnMarkers then): wait until it has taken its offset, bounded.
    end = 5 * len(workload) + ("transaction" in workload)
    deadline = time.monotonic() + 15
    while ctx.setup.offsets(topic, [0], [])["end"]["0"] < end and time.monotonic() < deadline:
        time.sleep(0.2)
    segment = ctx.log_dir / f"{topic}-0" / "00000000000000000000.log"
    dumped = run(DUMP_LOG, ["--files", str(segment), "--deep-iteration", "--print-data-log"])
    lines = _ok(dumped, "kafka-dump-log").splitlines()
    batches: list[dict[str, Any]] = []
    for line in lines:
        if line.startswith("baseOffset:"):
            batches.append({**_dump_fields(line), "records": []})
        elif line.startswith("| offset:"):
            if not batches:
                raise ScenarioFailed(f"a record before any batch: {line}")
            batches[-1]["records"].append(_dump_fields(line))
    records = [r for b in batches if b["isControl"] == "false" for r in b["records"]]
    data = 5 * len(workload)
    ctx.expect_equal("records decoded", [[r["offset"], r.get("key"), r.get("payload"), r["headerKeys"]] for r in records],
                     [[str(i), f"k{i % 5}", f"value {i % 5} {PAD}", "[h]"] for i in range(data)])
    ctx.expect_equal("every batch valid", {b["isvalid"] for b in batches}, {"true"})
    ctx.expect_equal("codecs", sorted({b["compresscodec"] for b in batches}), ["gzip", "none"])
    markers = [[r["offset"], r.get("endTxnMarker")] for b in batches if b["isControl"] == "true" for r in b["records"]]
    ctx.expect_equal("transaction markers", markers, [[str(data), "COMMIT"]] if "transaction" in workload else [])
    # Each record with the attributes of its batch: where a client cuts batches follows its clock
    # (linger), so batch boundaries (offsets, counts, base and last sequence) are left out.
    return {"workload": workload, "records": [{**{k: v for k, v in b.items() if k in BATCH_ATTRIBUTES}, **r}
                                              for b in batches for r in b["records"]]}


SCENARIOS = [
    Scenario("cli-consumer-groups", consumer_groups, "kafka-consumer-groups: list, describe (lag), state, reset-offsets, delete"),
    Scenario("cli-perf-tests", perf_tests, "kafka-producer-perf-test and kafka-consumer-perf-test: counts, no errors"),
    Scenario("cli-verifiable-producer-consumer", verifiable, "acked records consumed exactly once, committed offsets (both protocols)"),
    Scenario("cli-dump-log", dump_log, "kafka-dump-log decodes the target's segment after the client wrote a fixed workload"),
]
