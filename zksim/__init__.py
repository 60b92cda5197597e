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
  result code; disabled while enrolling, re-enabled afterwards.

Simplified:

- a TCP chunk goes out in one CMD_DATA packet (real terminals split it in ~1 KB packets);
  the 4 trailing bytes of the CMD_PREPARE_BUFFER answer are zeros;
- a bad-quality press does not count, the terminal waits for that press again; duplicate
  and mismatching fingers are only reported after the third press (result 5 / 4), which is
  where pyzk's enroll_user looks for them; starting an enrollment on a finger that already
  has a template answers CMD_ACK_ERROR (delete the template first);
- a busy terminal (max_sessions reached) answers CMD_CONNECT with CMD_ACK_ERROR, session 0,
  and closes the TCP connection;
- CMD_RESTART is acknowledged (pyzk 0.9 needs the ACK; zk-protocol says devices don't);
- events go out one at a time, the next after the client's ACK (``event_window = 1``);
  raise event_window to send several back to back;
- UDP sessions end only on CMD_EXIT, reboot or session_timeout (no connection to lose);
- no operation log, no faces, no access control, no SMS, no work codes; templates are
  fake bytes with a ZKFinger v10 signature; packets with a wrong checksum are ignored.
"""

from .protocol import ClockReading
from .records import Record, Template, User
from .simulator import ZKSimulator
from .terminal import PressOutcome

__all__ = ["ClockReading", "PressOutcome", "Record", "Template", "User", "ZKSimulator"]
