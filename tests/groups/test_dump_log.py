"""Kafka's own kafka-dump-log --offsets-decoder reads what kwire writes to
__consumer_offsets (the tool from Kafka's tools jar, as in
tests/storage/test_kafka_dump_log.py, whose classpath fixture is reused)."""

from __future__ import annotations

from pathlib import Path

from kwire.groups import records as rec

from tests.storage.test_kafka_dump_log import classpath, decode_internal_records  # noqa: F401  (fixture)

T0 = 1_700_000_000_000


def test_dump_log_offsets_decoder_reads_kwire_records(tmp_path: Path, classpath: str) -> None:  # noqa: F811
    member = rec.MemberMetadata(member_id="member-1", group_instance_id="instance-1", client_id="client", client_host="/127.0.0.1",
                                rebalance_timeout=30000, session_timeout=10000, subscription=b"\x00\x01", assignment=b"\x00\x02")
    group_value = rec.GroupMetadataValue(protocol_type="consumer", generation=3, protocol="range", leader="member-1",
                                         current_state_timestamp=T0, members=[member])
    pairs = [
        (rec.offset_commit_key("my-group", "orders", 2), rec.offset_commit_value(rec.OffsetAndMetadata(42, 5, "meta", T0))),
        (rec.offset_commit_key("my-group", "orders", 3), rec.offset_commit_value(rec.OffsetAndMetadata(7, -1, "", T0, T0 + 1000))),
        (rec.group_metadata_key("my-group"), rec.group_metadata_value(group_value)),
        (rec.offset_commit_key("my-group", "orders", 2), None),
        (rec.group_metadata_key("my-group"), None),
    ]
    out = decode_internal_records(classpath, tmp_path / "__consumer_offsets-12", pairs, "--offsets-decoder")
    assert '"group":"my-group","topic":"orders","partition":2' in out.replace(" ", ""), out
    assert '"offset":42' in out and '"leaderEpoch":5' in out and '"metadata":"meta"' in out, out
    assert '"expireTimestamp":' + str(T0 + 1000) in out, out
    assert '"protocolType":"consumer"' in out and '"generation":3' in out and '"memberId":"member-1"' in out, out
    assert '"groupInstanceId":"instance-1"' in out, out
    assert out.count("payload: <DELETE>") == 2, out
    assert '"type":"1"' in out and '"type":"2"' in out and '"version":"4"' in out and '"version":"3"' in out, out


def test_dump_log_offsets_decoder_reads_kwire_consumer_group_records(tmp_path: Path, classpath: str) -> None:  # noqa: F811
    import uuid

    from kwire.groups import consumer_records as crec
    from kwire.groups.consumer_group import ConsumerGroupMember, MemberState

    topic_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    member = ConsumerGroupMember("m-1", instance_id="i-1", client_id="client", client_host="/127.0.0.1", subscribed_topic_names=("orders",),
                                 subscribed_topic_regex="ord.*", rebalance_timeout_ms=30000, member_epoch=4, previous_member_epoch=3,
                                 state=MemberState.UNREVOKED_PARTITIONS, assigned={topic_id: {0: 3, 1: 4}}, pending_revocation={topic_id: {2: 3}})
    pairs = [
        crec.member_metadata_record("cg", member),
        crec.group_epoch_record("cg", 4, 99),
        crec.target_member_record("cg", "m-1", {topic_id: frozenset({0, 1})}),
        crec.target_metadata_record("cg", 4, T0),
        crec.current_assignment_record("cg", member),
        *crec.member_tombstones("cg", "m-1"),
        *crec.group_tombstones("cg"),
    ]
    out = decode_internal_records(classpath, tmp_path / "__consumer_offsets-7", pairs, "--offsets-decoder").replace(" ", "")
    for record_type in (3, 4, 5, 6, 7, 8):
        assert f'"type":"{record_type}"' in out, (record_type, out)
    assert '"subscribedTopicNames":["orders"]' in out and '"subscribedTopicRegex":"ord.*"' in out, out
    assert '"epoch":4' in out and '"metadataHash":99' in out and '"assignmentEpoch":4' in out, out
    assert '"memberEpoch":4' in out and '"previousMemberEpoch":3' in out and '"state":1' in out, out
    assert out.count("payload:<DELETE>") == 6, out
