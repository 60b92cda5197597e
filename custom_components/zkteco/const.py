"""Constants for the ZKTeco integration."""

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "zkteco"
LOGGER = logging.getLogger(__package__)

CONF_DEVICE_ID: Final = "device_id"
CONF_COMM_KEY: Final = "comm_key"
CONF_PROTOCOL: Final = "protocol"
CONF_TIMEZONE: Final = "timezone"
# Options of every terminal: keep its clock right; copy fingers enrolled on it to the others.
CONF_KEEP_CLOCK: Final = "keep_clock"
CONF_SHARE_FINGERPRINTS: Final = "share_fingerprints"
# The terminal calls Home Assistant (Push / Cloud Server); alone, or beside the pull data.
CONF_PUSH: Final = "push"
CONF_SERIAL_NUMBER: Final = "serial_number"
# Options of a terminal that calls Home Assistant.
CONF_ENROLLMENT_PATH: Final = "enrollment_path"
CONF_SOURCE_ADDRESS: Final = "source_address"
CONF_LISTENER_PORT: Final = "listener_port"

# Which channel enrolls a terminal that has both: automatic is Push while it polls, else pull.
ENROLLMENT_AUTOMATIC: Final = "automatic"
ENROLLMENT_PULL: Final = "pull"
ENROLLMENT_PUSH: Final = "push"
ENROLLMENT_PATHS: Final = (ENROLLMENT_AUTOMATIC, ENROLLMENT_PULL, ENROLLMENT_PUSH)

PROTOCOL_TCP: Final = "tcp"
PROTOCOL_UDP: Final = "udp"

DEFAULT_PORT: Final = 4370
DEFAULT_SCAN_INTERVAL: Final = timedelta(seconds=30)
MAX_COMM_KEY: Final = 999999
# The user list is read when the user count changes, and at least this often (a rename keeps the
# count).
USERS_REREAD_INTERVAL: Final = timedelta(minutes=10)

# A terminal clock further off than this from Home Assistant's raises a repair issue: punches are
# stamped by it. Terminal clocks drift by seconds a week; this is a clock that was never set.
CLOCK_TOLERANCE: Final = timedelta(minutes=5)

# Seconds a single exchange with the terminal may take; pyzk's own default is 60 s.
CONNECT_TIMEOUT: Final = 5.0

# The Spanish names of the user's API document, spelt without accents as its example is.
FINGER_NAMES_ES: Final = (
    "Pulgar derecho",
    "Indice derecho",
    "Medio derecho",
    "Anular derecho",
    "Menique derecho",
    "Pulgar izquierdo",
    "Indice izquierdo",
    "Medio izquierdo",
    "Anular izquierdo",
    "Menique izquierdo",
)
FINGER_INDEXES: Final = range(len(FINGER_NAMES_ES))
# Option keys of the finger select, translated in the UI's language.
FINGER_KEYS: Final = (
    "right_thumb",
    "right_index",
    "right_middle",
    "right_ring",
    "right_little",
    "left_thumb",
    "left_index",
    "left_middle",
    "left_ring",
    "left_little",
)

EVENT_ATTENDANCE: Final = "zkteco_attendance"
EVENT_ENROLLMENT_PRESS: Final = "zkteco_enrollment_press"
EVENT_ENROLLMENT_FINISHED: Final = "zkteco_enrollment_finished"
EVENT_FINGERPRINT_SHARED: Final = "zkteco_fingerprint_shared"

# The vendor manual leaves a CMD_UNLOCK without a delay undefined (the terminal's own lock time
# cannot be asked for it): pyzk's default, always sent.
DEFAULT_UNLOCK_SECONDS: Final = 3
