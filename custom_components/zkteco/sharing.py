"""Enroll once, use everywhere: a finger enrolled on a terminal whose entry shares new
fingerprints is copied to every other terminal, by zkteco.copy_fingerprints' own implementation.

It starts once zkteco_enrollment_finished has announced the success, in the background: the
enrollment's result, event and REST answer never wait for it. That finger only is copied, with
the person when the other terminal lacks them. The new template wins over the same finger on the
other terminals (the person just enrolled it anew); their other fingers are left alone. Each
other terminal is tried once: one that is unreachable, not set up, busy enrolling, refusing, or
connected in a way that cannot store templates (Push) is reported failed, with why, in
zkteco_fingerprint_shared, and not tried again. The template passes through memory only.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback

from .const import CONF_DEVICE_ID, DOMAIN, EVENT_FINGERPRINT_SHARED, LOGGER
from .coordinator import ZKTecoRuntimeData
from .enrollment import EnrollmentError, finger_name, terminal_finger
from .management import async_copy_fingerprints, async_message


@callback
def async_share_new_fingers(hass: HomeAssistant, source: ZKTecoRuntimeData) -> CALLBACK_TYPE:
    """Share each finger enrolled on ``source`` from now on; returns what stops it."""
    entry = source.coordinator.config_entry

    @callback
    def share(user_id: str, finger_index: int) -> None:
        entry.async_create_task(
            hass, _async_share(hass, source, user_id, finger_index), "share new fingerprint"
        )

    return source.enrollment.async_add_enrolled_listener(share)


def _other_terminals(hass: HomeAssistant, device_id: str) -> list[str]:
    """Every other terminal the user has not disabled, set up or not (then it fails, saying so)."""
    entries = hass.config_entries.async_entries(
        DOMAIN, include_ignore=False, include_disabled=False
    )
    device_ids = (entry.data[CONF_DEVICE_ID] for entry in entries)
    return [other for other in device_ids if other != device_id]


async def _async_share(
    hass: HomeAssistant, source: ZKTecoRuntimeData, user_id: str, finger_index: int
) -> None:
    device_id = source.coordinator.device_id
    if not (targets := _other_terminals(hass, device_id)):
        return
    try:
        copied = await async_copy_fingerprints(
            hass,
            source,
            user_id,
            targets,
            overwrite=True,
            fingers={terminal_finger(finger_index)},
        )
        results: list[dict[str, Any]] = copied["results"]
    except EnrollmentError as err:
        # The finger could not be read here: no other terminal got it, for this reason.
        message = await async_message(hass, err)
        results = [
            {"device_id": target, "user_created": False, "error": err.code, "message": message}
            for target in targets
        ]
    failed = [
        {key: result[key] for key in ("device_id", "error", "message", "user_created")}
        for result in results
        if "error" in result
    ]
    if failed:
        LOGGER.warning(
            "Finger %s of user %s enrolled on %s was not copied to: %s",
            finger_index,
            user_id,
            device_id,
            "; ".join(f"{item['device_id']} ({item['message']})" for item in failed),
        )
    hass.bus.async_fire(
        EVENT_FINGERPRINT_SHARED,
        {
            "device_id": device_id,
            "user_id": user_id,
            "finger_index": finger_index,
            "finger_name": finger_name(finger_index),
            "copied_to": [result["device_id"] for result in results if "error" not in result],
            "failed": failed,
        },
    )
