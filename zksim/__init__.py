"""Simulated ZKTeco K40 fingerprint terminal speaking the pull protocol (port 4370).

Every test, benchmark and demo of the integration runs against it; the real pyzk 0.9
works with it unmodified over TCP and UDP, with and without a comm key.

TCP is always served; with ``udp=True`` (``--udp``) UDP is served on the same port too,
as a real K40 does. ``python -m zksim --help`` lists the command line options.

Faithful to real terminals (captured packets in fananimi/pyzk test.py, the documentation
in adrobinoga/zk-protocol and the vendor manual):

- framing (TCP top 0x5050 0x7d82 + length; UDP bare), header, checksum (computed, like
  the SDK does, over the header with the *previous* reply number: checked against captured
  packets), session ids, reply numbers echoed, comm-key challenge (CMD_ACK_UNAUTH, then
  CMD_AUTH with MakeKey; a wrong key gets CMD_ACK_UNAUTH and the session is closed);
- options answered as ``key=value\\x00``; unknown keys get CMD_ACK_ERROR;
- CMD_GET_FREE_SIZES layout, clock encoding, user layouts (72 and 28 bytes), attendance
  layouts (8, 16, 40 bytes), template table layout;
- large data through CMD_PREPARE_BUFFER (1503) / chunk reads (1504) / CMD_FREE_DATA,
  small data (<= 1016 bytes) answered directly with CMD_DATA;
- realtime events: CMD_REG_EVENT packets with the event code in the session-id field and
  reply number 0, per-session masks, resent after 1 s until acknowledged (3 tries);
  EF_ATTLOG in every size firmware sends (``event_size``: 10, 12, 14, 32, 36, 52);
- impossible dates in the log: a ``Record`` stamped with a ``ClockReading`` such as 30 February
  (real terminals log them: pyzk issues 175 and 244) is encoded like any other;
- enrollment: EF_FINGER, EF_FPFTR (score 100/0) per press, EF_ENROLLFINGER with the
  result code; while enrolling it verifies nobody (``enabled`` is False, though no
  CMD_DISABLEDEVICE was sent: that one shields the sensor too), enabled afterwards.
- people and fingers: CMD_USER_WRQ takes a row in either layout; CMD_DELETE_USER (uid)
  drops the user's templates too; one finger goes by CMD_DELETE_USERTEMP (uid, finger: the
  vendor manual) or CMD_DEL_FPTMP (134: user id in 24 bytes, finger: zk-protocol, what
  pyzk means to send over TCP), answered CMD_ACK_ERROR when there is none; CMD_GET_USERTEMP
  (88) sends a template and one byte more; the template table (CMD_DB_RRQ, FCT_FINGERTMP);
- uploads: CMD_PREPARE_DATA announces the size, CMD_DATA packets carry the data, then
  CMD_SAVE_USERTEMPS (110) stores the user row and templates pyzk's save_user_template
  sends, all or nothing: an upload shorter than announced, a finger outside 0-9 or too
  few free template slots store nothing; fingers not in the upload are kept;
- the door: CMD_UNLOCK opens the lock relay for its 4-byte delay in tenths of a second
  (pyzk's unlock sends seconds * 10); ``relay_open_until`` (``time.monotonic()``) and
  ``relay_open`` show it to tests; a restart closes it;
- the clock: CMD_GET_TIME and CMD_SET_TIME in the SDK's packed encoding (whole seconds, no
  timezone); it runs on from what it was set to (``set_clock``), gaining ``clock_drift``
  seconds a day (a terminal's clock drifts by seconds a day, a bad crystal by minutes).

Shapes of real firmware, each off by default (attributes of the simulator):

- ``plain_checksum``: packets are checksummed over the header as sent, without the SDK's
  previous reply number (issue 9 of this project; pyzk accepts such terminals). What the
  simulator receives is still checked the SDK way, the way clients send it;
- ``data_counter_in_session``: the CMD_DATA packets of a data stream count 0, 1, 2... in
  the session field (captured in pyzk test.py, test_tcp_get_users_broken_tcp);
- ``data_size_in_ack``: the CMD_ACK_OK that ends a data stream carries the size of the data
  (its low 16 bits) in the session field, as a K40 does (issue 9);
- ``tcp_segment``: TCP replies and events go out in sends of at most this many bytes, a
  short pause apart, so a client reads frames in pieces (in the same capture a 1016-byte
  packet arrived in five reads of at most 256 bytes).

Faults, switchable at runtime (attributes of the simulator): ``unresponsive``,
``drop_in_buffered_read``, ``corrupt_checksum`` (the next n replies), ``reply_delay``,
``max_sessions``, ``session_timeout``; by command: ``refused_commands`` are answered
CMD_ACK_ERROR and not carried out; ``dropped_commands`` end the session unanswered and not
carried out; ``lost_replies`` are carried out, then the session ends unanswered (TCP hangs
up; UDP stays silent and forgets the session). ``ack_restart = False`` restarts without the
ACK, as zk-protocol says real devices do. ``set_time_ignored``: CMD_SET_TIME is acknowledged
and the clock left as it was (kamshory/ZKLibrary issue 109: a terminal acknowledged setTime and
kept another time until it was reset).

Simplified:

- a TCP chunk goes out in one CMD_DATA packet (real terminals split it in ~1 KB packets);
  the 4 trailing bytes of the CMD_PREPARE_BUFFER answer are zeros;
- a bad-quality press does not count, the terminal waits for that press again; duplicate
  and mismatching fingers are only reported after the third press (result 5 / 4), which is
  where pyzk's enroll_user looks for them; starting an enrollment on a finger that already
  has a template answers CMD_ACK_ERROR (delete the template first);
- a busy terminal (max_sessions reached) answers CMD_CONNECT with CMD_ACK_ERROR, session 0,
  and closes the TCP connection;
- CMD_RESTART is acknowledged unless ``ack_restart`` is off (pyzk 0.9 needs the ACK);
- the data announced by CMD_PREPARE_DATA carries the size of its CMD_DATA packets only when
  ``tcp_data_packet`` splits it (captured: 1008), 0 otherwise;
- events go out one at a time, the next after the client's ACK (``event_window = 1``);
  raise event_window to send several back to back;
- UDP sessions end only on CMD_EXIT, reboot or session_timeout (no connection to lose);
- no operation log, no faces, no access control, no SMS, no work codes; templates are
  fake bytes with a ZKFinger v10 signature; packets with a wrong checksum are ignored.

Push mode (``zksim/push.py``, ``python -m zksim --push URL``): ``PushTerminal`` makes a
terminal call a server the way Push ("ADMS", "Cloud Server") firmware does: handshake,
``table=options``, ATTLOG posts re-sent until acknowledged, ``getrequest`` polls, commands
(``zksim/push_commands.py``) including ``ENROLL_FP`` driven by the same presses. It can share
its ``Terminal`` with a ``ZKSimulator`` (one K40 speaking both protocols); the docstrings of
both modules list what is faithful to the Push reference and what is simplified.
"""

from .protocol import ClockReading
from .push import PushTerminal
from .records import Record, Template, User
from .simulator import ZKSimulator
from .terminal import PressOutcome

__all__ = [
    "ClockReading",
    "PressOutcome",
    "PushTerminal",
    "Record",
    "Template",
    "User",
    "ZKSimulator",
]
