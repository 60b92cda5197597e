"""What a terminal sends over Attendance PUSH 2.x, read by push/uploads.py.

Bodies are the real ones our reference (shared/reference/push-protocol.md) quotes, and those of
the sources it cites:
- [ATT-CN] §11-§13, as the reference quotes it in §1.5-§1.9;
- zf0916/hr-system: SPEC.md §10-§12 (captures of a real SenseFace 4A: ten fields, a trailing tab
  and CRLF, status 255, `OpStamp`, the handshake it accepted);
- s0x90/zkteco-adms: datasheet/ADMS.md (a real SpeedFace-V5L: batched results, `Shell` spread
  over lines, the keyed punch form);
- kankrittapon/adms-server: app/native_push/protocol.py (the uid-first ATTLOG form);
- kittiu/thai_zkt (option values holding commas); a K40 Pro's positional `INFO=` (public source).
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime
import gc
from typing import Any

import pytest

from custom_components.zkteco.push import uploads
from custom_components.zkteco.push.uploads import (
    AttLogRecord,
    BadLine,
    BioDataRecord,
    CommandResult,
    DeviceInfo,
    FingerRecord,
    LineProblem,
    OperationRecord,
    Outcome,
    UserRecord,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Nothing here needs Home Assistant: the module is pure text in, records out."""


# A template as a terminal uploads it: base64, the FP line's Size being its length.
TEMPLATE = base64.b64encode(bytes(range(256)) * 5).decode()
PUNCH_TIME = datetime(2015, 7, 30, 15, 16, 28)


# --- The query --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(
            # [ATT-CN] §6: the handshake.
            {
                "SN": "0316144680030",
                "options": "all",
                "pushver": "2.2.14",
                "language": "83",
                "pushcommkey": "4a95",
            },
            {"serial": "0316144680030", "handshake": True, "push_version": "2.2.14"},
            id="handshake",
        ),
        pytest.param(
            # zf0916 SPEC §12: a SenseFace 4A's handshake.
            {
                "SN": "PYA8262300072",
                "options": "all",
                "language": "69",
                "pushver": "2.4.1",
                "DeviceType": "att",
                "PushOptionsFlag": "1",
            },
            {"device_type": "att", "language": "69", "table": None, "stamp": None},
            id="senseface-handshake",
        ),
        pytest.param(
            {"SN": "PYA8262300072", "table": "ATTLOG", "Stamp": "9999"},
            {"table": "ATTLOG", "stamp": "9999", "handshake": False},
            id="attlog-stamp",
        ),
        pytest.param(
            {"SN": "X", "table": "ATTLOG", "ATTLOGStamp": "123"},
            {"stamp": "123"},
            id="attlog-new-stamp",
        ),
        pytest.param(
            # zf0916 SPEC §12: OPERLOG names its cursor OpStamp.
            {"SN": "X", "table": "OPERLOG", "OpStamp": "9999"},
            {"table": "OPERLOG", "stamp": "9999"},
            id="operlog-opstamp",
        ),
        pytest.param(
            {"SN": "X", "table": "OPERLOG", "OPERLOGStamp": "7", "Stamp": "8"},
            {"stamp": "7"},
            id="operlog-new-stamp-first",
        ),
        pytest.param(
            {"SN": "X", "table": "OPERLOG", "Stamp": "8"},
            {"stamp": "8"},
            id="operlog-old-stamp",
        ),
        pytest.param(
            {"SN": "X", "table": "ATTPHOTO", "PhotoStamp": "5"},
            {"table": "ATTPHOTO", "stamp": "5"},
            id="photo-stamp",
        ),
        pytest.param(
            {"SN": "X", "table": "BIODATA", "BIODATAStamp": "6"},
            {"table": "BIODATA", "stamp": "6"},
            id="biodata-stamp",
        ),
        pytest.param(
            {"SN": "X", "table": "options"},
            {"table": "OPTIONS", "stamp": None},
            id="options-table",
        ),
        pytest.param(
            # Key case varies between firmware builds (P8).
            {"sn": " CQUJ123 ", "TABLE": "attlog", "STAMP": "1716809648.0", "Options": "ALL"},
            {"serial": "CQUJ123", "table": "ATTLOG", "stamp": "1716809648.0", "handshake": True},
            id="any-case",
        ),
        pytest.param({}, {"serial": None, "table": None, "stamp": None}, id="empty"),
        pytest.param(
            {"SN": "ABC\r\nC:1:REBOOT", "table": "ATT LOG", "Stamp": "1\t2"},
            {"serial": None, "table": None, "stamp": None},
            id="injection",
        ),
        pytest.param(
            {"SN": "A" * 41, "pushver": "x" * 65, "DeviceType": "middle east"},
            {"serial": None, "push_version": None, "device_type": "middle east"},
            id="too-long",
        ),
        pytest.param(
            {"SN": "A", "language": "\x00", "pushver": "  "},
            {"language": None, "push_version": None},
            id="control-and-blank",
        ),
    ],
)
def test_query(query: dict[str, str], expected: dict[str, Any]) -> None:
    parsed = uploads.parse_query(query)

    assert {name: getattr(parsed, name) for name in expected} == expected


def test_query_first_of_a_key_wins_whatever_its_case() -> None:
    class MultiDict(dict[str, str]):
        """Two spellings of SN, as a multidict's items() yields them."""

        def items(self) -> Any:
            return [("SN", "FIRST"), ("sn", "SECOND")]

    assert uploads.parse_query(MultiDict()).serial == "FIRST"


def test_query_info_of_the_first_poll() -> None:
    # A K40 Pro on firmware 8.x (reference §1.4); Home Assistant decodes the %20.
    query = {"SN": "X", "INFO": "Ver 8.0.4.3-20230515,2,2,19,192.168.31.216,10,7,12,0,111"}

    assert uploads.parse_query(query).info == DeviceInfo(
        firmware="Ver 8.0.4.3-20230515",
        fingerprint_algorithm="10",
        users=2,
        fingers=2,
        records=19,
    )
    assert uploads.parse_query({"SN": "X"}).info is None


# --- ATTLOG ----------------------------------------------------------------------------------


def punch(
    user_id: str = "1452",
    time: datetime = PUNCH_TIME,
    status: int | None = 0,
    verify: int | None = 1,
    work_code: str | None = "0",
) -> AttLogRecord:
    return AttLogRecord(user_id, time, status, verify, work_code)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(b"1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0", punch(), id="document"),
        pytest.param(
            # zf0916 SPEC §12: ten fields and a trailing tab, CRLF, status 255, verify 15.
            b"1\t2026-08-20 11:27:27\t255\t15\t0\t0\t0\t0\t0\t0\t\r",
            punch("1", datetime(2026, 8, 20, 11, 27, 27), 255, 15),
            id="senseface",
        ),
        pytest.param(
            b"1452\t2015-07-30 15:16:28\t0\t15\t0\t0\t0\t1\t36.5\t97.7",
            punch(verify=15),
            id="mask-and-temperature",
        ),
        pytest.param(
            b"1452\t2015-07-30 15:16:28\t1\t1",
            punch(status=1, work_code=None),
            id="four-fields",
        ),
        pytest.param(
            b"1452\t2015-07-30 15:16:28",
            punch(status=None, verify=None, work_code=None),
            id="user-and-time-only",
        ),
        pytest.param(
            b"1452\t2015-07-30 15:16:28\t\t1\t",
            punch(status=None, work_code=None),
            id="empty-status",
        ),
        pytest.param(
            # The PDFs render tabs as spaces.
            b"1452 2015-07-30 15:16:28 0 1 0 0 0",
            punch(),
            id="spaces",
        ),
        pytest.param(
            # kankrittapon/adms-server: a uid-first form.
            b"ATTLOG\t5\t1452\t2015-07-30 15:16:28\t0\t1\t0",
            punch(),
            id="uid-first",
        ),
        pytest.param(
            b" 1452 \t 2015-07-30 15:16:28 \t 0 \t 1 \t 7 ",
            punch(work_code="7"),
            id="padded-fields",
        ),
        pytest.param(
            b"1452\t2015-07-30 15:16:28\t0\t1\t\x00\x07",
            punch(work_code=None),
            id="control-work-code",
        ),
        pytest.param(
            b"1452\t2015-07-30T15:16:28\t0\t1\t0",
            punch(),
            id="iso-time",
        ),
        pytest.param(
            b"\xef\xbb\xbf1452\t2015-07-30 15:16:28\t0\t1\t0",
            punch(),
            id="byte-order-mark",
        ),
        pytest.param(
            # s0x90/zkteco-adms: datasheet/ADMS.md, the keyed form.
            b"PIN=1452\tDateTime=2015-07-30 15:16:28\tVerified=1\tStatus=0",
            punch(work_code=None),
            id="keyed-s0x90",
        ),
        pytest.param(
            b"PIN=1452    DateTime=2015-07-30 15:16:28    Verified=1    Status=0",
            punch(work_code=None),
            id="keyed-spaces",
        ),
        pytest.param(
            # Reference §1.5, "a public source".
            b"PIN=1452\tTime=2015-07-30 15:16:28\tStatus=0\tVerifyMode=1\tWorkCode=3",
            punch(work_code="3"),
            id="keyed-verifymode",
        ),
        pytest.param(
            b"pin=1452\ttime=2015-07-30 15:16:28",
            punch(status=None, verify=None, work_code=None),
            id="keyed-lower-case",
        ),
    ],
)
def test_attlog_line(line: bytes, expected: AttLogRecord) -> None:
    upload = uploads.parse_attlog(line)

    assert upload.records == (expected,)
    assert upload.bad_lines == ()
    assert upload.acknowledged == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(b"1452\t0\t1\t0", LineProblem.NO_TIME, id="no-time"),
        pytest.param(b"garbage", LineProblem.NO_TIME, id="garbage"),
        pytest.param(b"1452\t2015-13-30 15:16:28\t0", LineProblem.BAD_TIME, id="month-13"),
        pytest.param(
            "1452\t\u0662\u0660\u0661\u0665-07-30 15:16:28\t0".encode(),
            LineProblem.NO_TIME,
            id="arabic-digits",
        ),
        pytest.param(b"1452\t2015-02-30 25:16:28\t0", LineProblem.BAD_TIME, id="hour-25"),
        pytest.param(b"2015-07-30 15:16:28\t0\t1", LineProblem.NO_USER, id="no-user"),
        pytest.param(b"\t2015-07-30 15:16:28\t0\t1", LineProblem.NO_USER, id="empty-user"),
        pytest.param(b"1" * 25 + b"\t2015-07-30 15:16:28", LineProblem.BAD_USER, id="long-user"),
        pytest.param(b"1\x00\t2015-07-30 15:16:28", LineProblem.BAD_USER, id="nul-user"),
        pytest.param(b"1452\t2015-07-30 15:16:28\tin\t1", LineProblem.BAD_NUMBER, id="status"),
        pytest.param(b"1452\t2015-07-30 15:16:28\t0\t1_0", LineProblem.BAD_NUMBER, id="verify"),
        pytest.param(b"1452\t2015-07-30 15:16:28\t" + b"9" * 19, LineProblem.BAD_NUMBER, id="big"),
        pytest.param(b"PIN=1452\tStatus=0", LineProblem.NO_TIME, id="keyed-no-time"),
        pytest.param(b"Time=2015-07-30 15:16:28", LineProblem.NO_USER, id="keyed-no-user"),
        pytest.param(b"1\t2015-07-30 15:16:28\t" * 100, LineProblem.TOO_LONG, id="huge"),
    ],
)
def test_attlog_bad_line(line: bytes, problem: LineProblem) -> None:
    upload = uploads.parse_attlog(line)

    assert upload.records == ()
    assert upload.bad_lines == (BadLine(1, problem),)
    assert upload.acknowledged == 1


def test_attlog_bad_lines_cost_nothing_beside_them() -> None:
    body = (
        b"\r\n"
        b"1452\t2015-07-30 15:16:28\t0\t1\t0\t0\t0\r\n"
        b"\xff\xfe\x00binary\x01\x02\r\n"
        b"   \t \r\n"
        b"1453\t2015-07-30 15:17:00\t1\t1\t0\t0\t0\t\r\n"
        b"1454\t2015-07-30 99:17:00\t1\t1\t0\r\n"
        b"1455\t2015-07-30 15:18:00\t0\t15\n"
    )

    upload = uploads.parse_attlog(body)

    assert [record.user_id for record in upload.records] == ["1452", "1453", "1455"]
    assert upload.bad_lines == (
        BadLine(3, LineProblem.NO_TIME),
        BadLine(6, LineProblem.BAD_TIME),
    )
    # Blank lines are not records; a malformed one is acknowledged with the rest (P1).
    assert upload.acknowledged == uploads.count_records(body) == 5


@pytest.mark.parametrize(
    ("body", "count"),
    [
        (b"", 0),
        (b"\n\r\n \t\n", 0),
        (b"1\t2015-07-30 15:16:28", 1),
        (b"1\t2015-07-30 15:16:28\n", 1),
        (b"a\rb\nc\r\nd", 4),
        (b"garbage\n\x00\n", 2),
    ],
)
def test_count_records(body: bytes, count: int) -> None:
    assert uploads.count_records(body) == count


def test_attlog_backlog_of_many_lines() -> None:
    # zf0916 SPEC §12: a terminal back after an outage posts its whole backlog.
    body = b"".join(
        b"%d\t2026-08-20 11:%02d:%02d\t255\t1\t0\t0\t0\t0\t0\t0\t\r\n" % (i, i // 60 % 60, i % 60)
        for i in range(10_000)
    )

    upload = uploads.parse_attlog(body)

    assert len(upload.records) == upload.acknowledged == 10_000
    assert upload.records[-1].user_id == "9999"


def test_a_batch_is_nothing_the_garbage_collector_tracks() -> None:
    # A batch is held while its events go out: tracked records would be promoted to the oldest
    # generation, bringing the whole process's next full collection nearer (bench_push.py).
    upload = uploads.parse_attlog(
        b"1\t2026-01-05 07:00:00\t0\t1\t0\nPIN=2\tDateTime=2026-01-05 07:00:01\tStatus=1\n"
    )

    assert len(upload.rows) == 2
    assert not any(gc.is_tracked(row) for row in upload.rows)
    assert upload.records[1] == AttLogRecord("2", datetime(2026, 1, 5, 7, 0, 1), 1, None, None)


def test_attlog_keyed_body_of_the_datasheet() -> None:
    # s0x90/zkteco-adms: datasheet/ADMS.md, "Sending Attendance Logs", as written there.
    body = (
        b"PIN=1001    DateTime=2025-09-02 14:32:11    Verified=1    Status=0\n"
        b"PIN=1002    DateTime=2025-09-02 14:35:54    Verified=1    Status=0\n"
    )

    assert uploads.parse_attlog(body).records == (
        AttLogRecord("1001", datetime(2025, 9, 2, 14, 32, 11), 0, 1, None),
        AttLogRecord("1002", datetime(2025, 9, 2, 14, 35, 54), 0, 1, None),
    )


def test_bad_line_never_repeats_its_content() -> None:
    upload = uploads.parse_attlog(b"secret-42\tnot a time\n")

    assert "secret" not in repr(upload)


# --- OPERLOG and BIODATA ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            # [ATT-CN] appendix 4 via reference §1.9: a fingerprint enrolled.
            b"OPLOG 6\t0\t2026-11-03 09:00:00\t2\t0\t1124\t0",
            OperationRecord(6, "0", datetime(2026, 11, 3, 9), ("2", "0", "1124", "0")),
            id="oplog-6",
        ),
        pytest.param(
            b"OPLOG 4\t1\t2026-11-03 09:00:00\t0\t0\t0\t0\t\r",
            OperationRecord(4, "1", datetime(2026, 11, 3, 9), ("0", "0", "0", "0")),
            id="oplog-trailing-tab",
        ),
        pytest.param(
            b"OPLOG 0 0 2026-11-03 09:00:00 0 0",
            OperationRecord(0, "0", datetime(2026, 11, 3, 9), ("0", "0")),
            id="oplog-spaces",
        ),
        pytest.param(
            b"OPLOG 9\t\x00\x01\t2026-11-03 09:00:00\t7\t\x1b",
            OperationRecord(9, "", datetime(2026, 11, 3, 9), ("7", "")),
            id="oplog-control-characters",
        ),
        pytest.param(
            b"OPLOG\t5\t\t2026-11-03 09:00:00",
            OperationRecord(5, "", datetime(2026, 11, 3, 9), ()),
            id="oplog-tab-after-kind",
        ),
        pytest.param(
            # Reference §1.5: the password is not kept.
            b"USER PIN=36234\tName=Ana Maria\tPri=0\tPasswd=1234\tCard=133440\tGrp=1"
            b"\tTZ=0001000000000000\tVerify=-1\tViceCard=",
            UserRecord("36234", "Ana Maria", 0, "133440"),
            id="user",
        ),
        pytest.param(
            b"USER Pin=7\tNAME=\tPrivilege=14\tCard=",
            UserRecord("7", "", 14, None),
            id="user-other-spellings",
        ),
        pytest.param(
            b"USER PIN=7\tName=Jos\xc3\xa9 Pe\xc3\xb1a\tPri=x",
            UserRecord("7", "José Peña", None, None),
            id="user-utf8",
        ),
        pytest.param(
            # [ATT-CN] §2.1: GB2312 when the terminal speaks Chinese; "张三".
            b"USER PIN=8\tName=\xd5\xc5\xc8\xfd\tPri=0",
            UserRecord("8", "张三", 0, None),
            id="user-gbk",
        ),
        pytest.param(
            b"USER PIN=9    Name=Ana    Pri=6",
            UserRecord("9", "Ana", 6, None),
            id="user-spaces",
        ),
        pytest.param(
            b"USER PIN=9\tName=Ana\x00\x00\x00\tCard=\x01\x02",
            UserRecord("9", "Ana", None, None),
            id="user-nul-padded-name-control-card",
        ),
        pytest.param(
            b"USER PIN=9\tName=\x1b[2J" + b"A" * 100,
            UserRecord("9", "", None, None),
            id="user-hostile-name",
        ),
        pytest.param(
            b"FP PIN=2\tFID=0\tSize="
            + str(len(TEMPLATE)).encode()
            + b"\tValid=1\tTMP="
            + TEMPLATE.encode(),
            FingerRecord("2", 0, len(TEMPLATE), 1),
            id="fp",
        ),
        pytest.param(
            b"FP Pin=2\tFid=9\tSIZE=1124\tVALID=3\tTmp=" + TEMPLATE.encode() + b"\t\r",
            FingerRecord("2", 9, len(TEMPLATE), 3),
            id="fp-other-spellings",
        ),
        pytest.param(
            b"FP PIN=2\tFID=6\tSize=1124\tValid=1",
            FingerRecord("2", 6, 1124, 1),
            id="fp-declared-size-only",
        ),
        pytest.param(
            b"FP PIN=2\tFID=6",
            FingerRecord("2", 6, None, None),
            id="fp-bare",
        ),
        pytest.param(
            # [ATT-CN] §11.12 via reference §1.5.
            b"BIODATA Pin=306\tNo=0\tIndex=0\tValid=1\tDuress=0\tType=1\tMajorVer=10"
            b"\tMinorVer=0\tFormat=0\tTmp=" + TEMPLATE.encode(),
            BioDataRecord("306", 0, 0, 1, 1, 10, 0, len(TEMPLATE)),
            id="biodata",
        ),
        pytest.param(
            b"BIODATA PIN=306\tNO=5\tTYPE=9\tMAJOR_VER=39\tTMP=",
            BioDataRecord("306", 5, None, None, 9, 39, None, None),
            id="biodata-upper-case",
        ),
    ],
)
def test_operlog_line(line: bytes, expected: object) -> None:
    upload = uploads.parse_operlog(line)

    records = (*upload.operations, *upload.users, *upload.fingers, *upload.biodata)
    assert records == (expected,)
    assert upload.bad_lines == ()
    assert upload.acknowledged == 1


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(b"OPLOG 6\t0", LineProblem.MISSING_FIELD, id="oplog-short"),
        pytest.param(b"OPLOG x\t0\t2026-11-03 09:00:00", LineProblem.BAD_NUMBER, id="oplog-code"),
        pytest.param(b"OPLOG 6\t0\tyesterday", LineProblem.NO_TIME, id="oplog-time"),
        pytest.param(b"OPLOG 6\t0\t2026-11-31 09:00:00", LineProblem.BAD_TIME, id="oplog-date"),
        pytest.param(b"USER Name=Ana", LineProblem.NO_USER, id="user-no-pin"),
        pytest.param(b"USER PIN=1 2\tName=Ana", LineProblem.BAD_USER, id="user-spaced-pin"),
        pytest.param(b"FP PIN=2\tSize=1", LineProblem.MISSING_FIELD, id="fp-no-fid"),
        pytest.param(b"FP PIN=2\tFID=left", LineProblem.BAD_NUMBER, id="fp-bad-fid"),
        pytest.param(b"FP FID=1\tTMP=" + TEMPLATE.encode(), LineProblem.NO_USER, id="fp-no-pin"),
        pytest.param(b"BIODATA Pin=1\tNo=0", LineProblem.MISSING_FIELD, id="biodata-no-type"),
        pytest.param(b"BIODATA Pin=1\tType=1", LineProblem.MISSING_FIELD, id="biodata-no-no"),
        pytest.param(b"HELLO PIN=1", LineProblem.UNKNOWN_KIND, id="unknown"),
        pytest.param(b"\x00\x01\x02\xff", LineProblem.UNKNOWN_KIND, id="binary"),
        pytest.param(b"X" * 1_000_000, LineProblem.UNKNOWN_KIND, id="huge"),
    ],
)
def test_operlog_bad_line(line: bytes, problem: LineProblem) -> None:
    upload = uploads.parse_operlog(line)

    assert upload.bad_lines == (BadLine(1, problem),)
    assert upload.acknowledged == 1


def test_operlog_mixed_body() -> None:
    # What the terminal posts after ENROLL_FP (reference §1.9), with what else it carries.
    body = (
        b"OPLOG 6\t0\t2026-11-03 09:00:00\t2\t6\t1124\t0\r\n"
        b"FP PIN=2\tFID=6\tSize=1124\tValid=1\tTMP=" + TEMPLATE.encode() + b"\r\n"
        b"\r\n"
        b"FACE PIN=306\tFID=2\tSIZE=1648\tVALID=1\tTMP=" + TEMPLATE.encode() + b"\r\n"
        b"USERPIC PIN=123\tFileName=123.jpg\tSize=10\tContent=" + TEMPLATE.encode() + b"\r\n"
        b"USER PIN=2\tName=Ana\tPri=0\tPasswd=\tCard=\tGrp=1\r\n"
        b"NONSENSE\r\n"
        b"BIODATA Pin=2\tNo=6\tIndex=0\tValid=1\tType=1\tMajorVer=10\tTmp=" + TEMPLATE.encode()
    )

    upload = uploads.parse_operlog(body)

    assert [op.code for op in upload.operations] == [6]
    assert upload.fingers == (FingerRecord("2", 6, len(TEMPLATE), 1),)
    assert upload.users == (UserRecord("2", "Ana", 0, None),)
    assert [bio.number for bio in upload.biodata] == [6]
    assert upload.ignored == 2
    assert upload.bad_lines == (BadLine(7, LineProblem.UNKNOWN_KIND),)
    assert upload.acknowledged == uploads.count_records(body) == 7


def test_no_parsed_object_holds_a_template() -> None:
    body = b"\n".join(
        [
            b"FP PIN=2\tFID=6\tSize=1124\tValid=1\tTMP=" + TEMPLATE.encode(),
            b"FP Pin=2\tFID=7\tTmp=" + TEMPLATE.encode(),
            b"FACE PIN=2\tFID=0\tTMP=" + TEMPLATE.encode(),
            b"BIODATA Pin=2\tNo=6\tType=1\tTmp=" + TEMPLATE.encode(),
            b"BIOPHOTO PIN=2\tFileName=2.jpg\tType=9\tContent=" + TEMPLATE.encode(),
            b"FP PIN=2\tFID=x\tTMP=" + TEMPLATE.encode(),
            b"USER PIN=2\tName=" + TEMPLATE[:20].encode() + b"\tPasswd=987654",
        ]
    )

    upload = uploads.parse_operlog(body)

    assert len(upload.fingers) == 2
    assert len(upload.biodata) == 1
    # Any 16 characters of the template, anywhere in what was kept (a name is user data).
    for text in strings_in(dataclasses.replace(upload, users=())):
        assert not any(TEMPLATE[i : i + 16] in text for i in range(len(TEMPLATE) - 16))
    assert "987654" not in repr(upload)


def strings_in(value: object) -> list[str]:
    """Every string held by a parsed object, however deep."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value):
        return [
            s for field in dataclasses.fields(value) for s in strings_in(getattr(value, field.name))
        ]
    if isinstance(value, tuple):
        return [s for item in value for s in strings_in(item)]
    return []


def test_records_are_frozen_and_slotted() -> None:
    record = FingerRecord("2", 6, 1124, 1)

    with pytest.raises(dataclasses.FrozenInstanceError):
        record.size = 0  # type: ignore[misc]
    assert not hasattr(record, "__dict__")


# --- Options and INFO ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            # Reference §1.4, with the K40's own figures (pyzk #252: ZKFinger 10).
            b"~DeviceName=K40,MAC=00:17:61:12:f8:db,FWVersion=Ver 6.60 May 25 2018,"
            b"UserCount=2,FPCount=3,TransactionCount=19,~ZKFPVersion=10,"
            b"~OEMVendor=ZKTECO CO., LTD.,~MaxUserCount=1000,~MaxFingerCount=1500,"
            b"~MaxAttLogCount=80000",
            DeviceInfo("Ver 6.60 May 25 2018", "K40", "10", 2, 3, 19, 1000, 1500, 80000),
            id="commas",
        ),
        pytest.param(
            # One a line, as INFO's result lines and some option posts are.
            b"~DeviceName=SpeedFace-V5L\r\nFWVersion=ZAM180-NF-Ver1.1.17\r\nUserCount=2\r\n"
            b"FPCount=0\r\nAttLogCount=0\r\nMaxUserCount=6000\r\nMaxAttLogCount=200000\r\n"
            b"MaxFingerCount=6000\r\nFPVersion=10\r\n",
            DeviceInfo("ZAM180-NF-Ver1.1.17", "SpeedFace-V5L", "10", 2, 0, 0, 6000, 6000, 200000),
            id="newlines",
        ),
        pytest.param(
            # zf0916 SPEC §9 A34: a SenseFace's small "capacities", taken as given.
            b"~MaxAttLogCount=20,~MaxUserCount=80,~MaxFingerCount=80,~MaxFaceCount=6000",
            DeviceInfo(user_capacity=80, finger_capacity=80, record_capacity=20),
            id="senseface",
        ),
        pytest.param(b"", DeviceInfo(), id="empty"),
        pytest.param(
            b"garbage,=1,UserCount=many,FPCount=\x00,FWVersion=\x01bad",
            DeviceInfo(),
            id="garbage",
        ),
        pytest.param(
            b"UserCount=1,UserCount=2,usercount=3",
            DeviceInfo(users=1),
            id="first-wins",
        ),
    ],
)
def test_options(body: bytes, expected: DeviceInfo) -> None:
    assert uploads.parse_options(body) == expected


def test_option_pairs_keep_commas_inside_values() -> None:
    assert uploads.option_pairs(b"a=1,~OEMVendor=ZKTECO CO., LTD.,b=2") == [
        ("a", "1"),
        ("~OEMVendor", "ZKTECO CO., LTD."),
        ("b", "2"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            "Ver 8.0.4.3-20230515,2,2,19,192.168.31.216,10,7,12,0,111",
            DeviceInfo("Ver 8.0.4.3-20230515", None, "10", 2, 2, 19),
            id="k40-pro",
        ),
        pytest.param("Ver 6.60", DeviceInfo("Ver 6.60"), id="firmware-only"),
        pytest.param(",x,,", DeviceInfo(), id="garbage"),
    ],
)
def test_info(value: str, expected: DeviceInfo) -> None:
    assert uploads.parse_info(value) == expected


# --- Command results --------------------------------------------------------------------------


def test_command_results_batched() -> None:
    # s0x90/zkteco-adms: datasheet/ADMS.md, a SpeedFace batching its confirmations.
    body = b"ID=1&Return=0&CMD=DATA\nID=2&Return=0&CMD=DATA\nID=3&Return=0&CMD=CHECK\n"

    parsed = uploads.parse_command_results(body)

    assert parsed.results == (
        CommandResult("1", 0, "DATA", ()),
        CommandResult("2", 0, "DATA", ()),
        CommandResult("3", 0, "CHECK", ()),
    )
    assert parsed.bad_lines == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            b"ID=29&Return=0&CMD=ENROLL_FP",
            CommandResult("29", 0, "ENROLL_FP", ()),
            id="enroll",
        ),
        pytest.param(
            # [SEC-CN] §10.4: a sub-device SN and `return` in lower case; spaces tolerated.
            b" ID = info8487 & return = -1002 & CMD = DATA & SN = 123 \r\n",
            CommandResult("info8487", -1002, "DATA", (("SN", "123"),)),
            id="lower-case-and-extra",
        ),
        pytest.param(
            # s0x90/zkteco-adms: a Shell result spread over lines.
            b"ID=32\nReturn=0\nCMD=Shell\nContent=Tue Mar 24 16:12:26 GMT 2026\n",
            CommandResult("32", 0, "Shell", (("Content", "Tue Mar 24 16:12:26 GMT 2026"),)),
            id="shell",
        ),
        pytest.param(
            # [ATT-CN] §12: INFO's result line is followed by Key=Value lines.
            b"ID=5&Return=0&CMD=INFO\n~DeviceName=K40\nUserCount=2\nFPCount=3\n",
            CommandResult(
                "5", 0, "INFO", (("~DeviceName", "K40"), ("UserCount", "2"), ("FPCount", "3"))
            ),
            id="info",
        ),
        pytest.param(
            b"ID=6&Return=0&Return=4&CMD=ENROLL_FP\nReturn=5",
            CommandResult("6", 0, "ENROLL_FP", ()),
            id="first-return-wins",
        ),
        pytest.param(b"ID=7&Return=0", CommandResult("7", 0, "", ()), id="no-cmd"),
    ],
)
def test_command_result(body: bytes, expected: CommandResult) -> None:
    parsed = uploads.parse_command_results(body)

    assert parsed.results == (expected,)
    assert parsed.bad_lines == ()


def test_info_result_gives_device_info() -> None:
    (result,) = uploads.parse_command_results(
        b"ID=5&Return=0&CMD=INFO\n~DeviceName=K40\nUserCount=2\nFPCount=3\n"
    ).results

    assert uploads.device_info(result.details) == DeviceInfo(device_name="K40", users=2, fingers=3)


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        pytest.param(b"Return=0&CMD=DATA", (BadLine(1, LineProblem.NO_COMMAND_ID),), id="no-id"),
        pytest.param(b"garbage", (BadLine(1, LineProblem.NO_COMMAND_ID),), id="garbage"),
        pytest.param(b"ID=&Return=0", (BadLine(1, LineProblem.NO_COMMAND_ID),), id="empty-id"),
        pytest.param(
            b"ID=" + b"9" * 100 + b"&Return=0", (BadLine(1, LineProblem.NO_COMMAND_ID),), id="huge"
        ),
        pytest.param(b"ID=1&CMD=DATA", (BadLine(1, LineProblem.MISSING_FIELD),), id="no-return"),
        pytest.param(b"ID=1&Return=ok", (BadLine(1, LineProblem.BAD_NUMBER),), id="bad-return"),
    ],
)
def test_command_result_bad(body: bytes, bad: tuple[BadLine, ...]) -> None:
    parsed = uploads.parse_command_results(body)

    assert parsed.results == ()
    assert parsed.bad_lines == bad


def test_bad_results_cost_nothing_beside_them() -> None:
    body = (
        b"\xff\xfe\nID=1&Return=x&CMD=DATA\n\nID=2&Return=0&CMD=DATA\nID=3&Return=2&CMD=ENROLL_FP"
    )

    parsed = uploads.parse_command_results(body)

    assert [(r.command_id, r.outcome) for r in parsed.results] == [
        ("2", Outcome.SUCCESS),
        ("3", Outcome.ALREADY_ENROLLED),
    ]
    assert parsed.bad_lines == (
        BadLine(1, LineProblem.NO_COMMAND_ID),
        BadLine(2, LineProblem.BAD_NUMBER),
    )


@pytest.mark.parametrize(
    ("code", "command", "outcome"),
    [
        # [ATT-CN] §12.9.1 and appendix 1, reference §1.8.
        (0, "ENROLL_FP", Outcome.SUCCESS),
        (2, "ENROLL_FP", Outcome.ALREADY_ENROLLED),
        (4, "ENROLL_FP", Outcome.CAPTURE_FAILED),
        (5, "ENROLL_FP", Outcome.DUPLICATE_FINGER),
        (6, "ENROLL_FP", Outcome.CANCELLED),
        (7, "ENROLL_FP", Outcome.BUSY),
        (3, "ENROLL_FP", Outcome.FAILED),
        (5, "ENROLL_BIO", Outcome.DUPLICATE_FINGER),
        (5, "ENROLL_MF", Outcome.TIMEOUT),
        (4, "ENROLL_MF", Outcome.CAPTURE_FAILED),
        (-1, "ENROLL_FP", Outcome.BAD_PARAMETER),
        (-10, "ENROLL_FP", Outcome.USER_NOT_FOUND),
        (-1002, "ENROLL_FP", Outcome.NOT_SUPPORTED),
        (-1003, "ENROLL_FP", Outcome.TIMEOUT),
        (-1005, "ENROLL_FP", Outcome.BUSY),
        (-2, "DATA", Outcome.PHOTO_SIZE_MISMATCH),
        (-3, "DATA", Outcome.READ_WRITE_ERROR),
        (-9, "DATA", Outcome.TEMPLATE_SIZE_MISMATCH),
        (-11, "DATA", Outcome.ILLEGAL_TEMPLATE_FORMAT),
        (-12, "DATA", Outcome.ILLEGAL_TEMPLATE),
        (-30, "DATA", Outcome.ALGORITHM_MISMATCH),
        (-1001, "DATA", Outcome.CAPACITY_EXCEEDED),
        (-1004, "DATA", Outcome.INCONSISTENT_CONFIGURATION),
        (-1006, "DATA", Outcome.DATA_TOO_LONG),
        (-1007, "DATA", Outcome.MEMORY_ERROR),
        (-1008, "DATA", Outcome.SERVER_DATA_UNAVAILABLE),
        # Enrollment's positive codes mean nothing for other commands.
        (2, "DATA", Outcome.FAILED),
        (-99, "DATA", Outcome.FAILED),
        (0, "", Outcome.SUCCESS),
        # The queue may pass the whole command it sent, in any case.
        (5, "enroll_fp PIN=1\tFID=6", Outcome.DUPLICATE_FINGER),
    ],
)
def test_outcome(code: int, command: str, outcome: Outcome) -> None:
    assert uploads.outcome_of(code, command) is outcome


def test_unknown_code_keeps_its_number() -> None:
    (result,) = uploads.parse_command_results(b"ID=9&Return=-4242&CMD=ENROLL_FP").results

    assert (result.outcome, result.code) == (Outcome.FAILED, -4242)
