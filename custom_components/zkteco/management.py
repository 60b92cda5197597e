"""People, fingers and the attendance log of a terminal: one implementation behind the actions
and the REST view.

Everything goes through the terminal's channel. What the terminal refuses, what the caller got
wrong and what the channel cannot do become translated errors that also carry the REST view's
status and code. A change is read back from the terminal at once, so that the entities and the
card show it. Templates, passwords and (unless asked for) card numbers never leave here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations

from .channel import (
    FingerTemplate,
    Person,
    TerminalError,
    TerminalInputError,
    TerminalNotSupportedError,
    TerminalRefusedError,
    TerminalUndeliveredError,
    TerminalUnknownUserError,
    TerminalUser,
    TerminalWriteUncertainError,
    UserChanges,
)
from .const import CONF_DEVICE_ID, DOMAIN, FINGER_INDEXES
from .coordinator import ZKTecoRuntimeData, async_find_terminal
from .enrollment import (
    EnrollmentBusy,
    EnrollmentError,
    InvalidEnrollmentInput,
    TerminalUnavailable,
    UserNotFound,
    finger_name,
    terminal_finger,
    validate_finger_index,
)

# The terminal's privilege numbers (zk-protocol, sections/data-user.md); bit 0 disables the user.
PRIVILEGES: Final = {0: "user", 14: "admin"}
PRIVILEGE_OTHER: Final = "other"  # an enroller or a manager, set at the terminal
_PRIVILEGE_DISABLED: Final = 1


def _value_error(problem: str) -> type[InvalidEnrollmentInput]:
    """The error of a value the terminal cannot store, by TerminalInputError's problem."""
    return type(f"InvalidValue_{problem}", (InvalidEnrollmentInput,), {"code": f"value_{problem}"})


_INPUT_ERRORS: Final = {
    problem: _value_error(problem)
    for problem in (
        "empty",
        "too_long",
        "control_character",
        "not_encodable",
        "not_digits",
        "out_of_range",
        "repeated",
    )
}


class FingerNotEnrolled(InvalidEnrollmentInput):
    status = HTTPStatus.NOT_FOUND
    code = "finger_not_enrolled"


class ConfirmRequired(InvalidEnrollmentInput):
    code = "confirm_required"


class AttendanceUndelivered(EnrollmentError):
    status = HTTPStatus.CONFLICT
    code = "attendance_undelivered"


class TerminalRefused(EnrollmentError):
    code = "terminal_refused"


class WriteUncertain(EnrollmentError):
    """The answer to a change was lost: it may or may not have been carried out."""

    code = "write_uncertain"


class NotSupported(EnrollmentError):
    status = HTTPStatus.NOT_IMPLEMENTED
    code = "not_supported"


@contextmanager
def _translated(runtime: ZKTecoRuntimeData, user_id: str = "") -> Iterator[None]:
    """The channel's errors as the caller sees them."""
    device_id = runtime.coordinator.device_id
    try:
        yield
    except TerminalInputError as err:
        raise _INPUT_ERRORS[err.problem](field=err.field) from err
    except TerminalUnknownUserError as err:
        raise UserNotFound(user_id=user_id, device_id=device_id) from err
    except TerminalUndeliveredError as err:
        raise AttendanceUndelivered() from err
    except TerminalNotSupportedError as err:
        raise NotSupported(device_id=device_id) from err
    except TerminalWriteUncertainError as err:
        raise WriteUncertain(error=err) from err
    except TerminalRefusedError as err:
        raise TerminalRefused(error=err) from err
    except TerminalError as err:
        raise TerminalUnavailable(error=err) from err


def _idle(runtime: ZKTecoRuntimeData) -> None:
    """Refuse while the terminal waits for a finger: any exchange would interrupt it."""
    if runtime.channel.enrolling or runtime.enrollment.active:
        raise EnrollmentBusy()


async def _async_show_change(runtime: ZKTecoRuntimeData) -> None:
    """Read the users and the counters again (a rename keeps the count a poll looks at)."""
    coordinator = runtime.coordinator
    try:
        await coordinator.async_refresh_users()
    except TerminalError:
        return  # the change is made; the next poll reads it
    await coordinator.async_request_refresh()


def finger_index_from_text(value: object) -> object:
    """The UI's select and a URL's path send the index as text ("1"); anything else is checked
    as it is."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


def privilege_name(privilege: int) -> str:
    return PRIVILEGES.get(privilege & ~_PRIVILEGE_DISABLED, PRIVILEGE_OTHER)


def describe_user(user: TerminalUser, *, include_card: bool) -> dict[str, Any]:
    """A user as the actions and the REST view show one: the card number only when asked."""
    described: dict[str, Any] = {
        "user_id": user.user_id,
        "name": user.name,
        "privilege": privilege_name(user.privilege),
        "has_card": user.card != 0,
    }
    if include_card:
        described["card"] = user.card or None
    return described


def describe_fingers(fingers: frozenset[int]) -> list[dict[str, Any]]:
    """The fingers (the terminal's numbers) as the document's indexes and names."""
    return [
        {"finger_index": index, "finger_name": finger_name(index)}
        for index in FINGER_INDEXES
        if terminal_finger(index) in fingers
    ]


def describe_person(person: Person, *, include_card: bool) -> dict[str, Any]:
    return {
        **describe_user(person.user, include_card=include_card),
        "fingers": describe_fingers(person.fingers),
    }


def admin_change(privilege: str | None) -> bool | None:
    """A privilege given by name, as a change (None keeps the terminal's)."""
    return None if privilege is None else privilege == "admin"


async def async_set_user(
    runtime: ZKTecoRuntimeData, user_id: str, changes: UserChanges
) -> dict[str, Any]:
    """Add the user or make the changes; returns the user as the terminal now holds it."""
    _idle(runtime)
    with _translated(runtime, user_id):
        user = await runtime.channel.async_write_user(user_id, changes)
    await _async_show_change(runtime)
    return {
        "device_id": runtime.coordinator.device_id,
        **describe_user(user, include_card=False),
    }


async def async_delete_user(runtime: ZKTecoRuntimeData, user_id: str) -> None:
    _idle(runtime)
    with _translated(runtime, user_id):
        await runtime.channel.async_delete_user(user_id)
    await _async_show_change(runtime)


async def async_delete_finger(
    runtime: ZKTecoRuntimeData, user_id: str, finger_index: object
) -> dict[str, Any]:
    """Delete one finger (the document's index); the document's description of it."""
    index = validate_finger_index(finger_index)
    _idle(runtime)
    with _translated(runtime, user_id):
        deleted = await runtime.channel.async_delete_finger(user_id, terminal_finger(index))
    if not deleted:
        raise FingerNotEnrolled(
            user_id=user_id,
            device_id=runtime.coordinator.device_id,
            finger_index=index,
            finger_name=finger_name(index),
        )
    await _async_show_change(runtime)
    return runtime.enrollment.describe(user_id, index)


async def async_read_people(runtime: ZKTecoRuntimeData) -> list[Person]:
    _idle(runtime)
    with _translated(runtime):
        return await runtime.channel.async_read_people()


async def async_get_users(runtime: ZKTecoRuntimeData, *, include_card: bool) -> dict[str, Any]:
    people = await async_read_people(runtime)
    return {
        "device_id": runtime.coordinator.device_id,
        "users": [describe_person(person, include_card=include_card) for person in people],
    }


async def async_get_user(
    runtime: ZKTecoRuntimeData, user_id: str, *, include_card: bool
) -> dict[str, Any]:
    device_id = runtime.coordinator.device_id
    for person in await async_read_people(runtime):
        if person.user.user_id == user_id:
            return {"device_id": device_id, **describe_person(person, include_card=include_card)}
    raise UserNotFound(user_id=user_id, device_id=device_id)


async def async_clear_attendance(runtime: ZKTecoRuntimeData, *, confirm: bool) -> None:
    """Clear the log, only when it holds nothing Home Assistant has not delivered."""
    if not confirm:
        raise ConfirmRequired()
    _idle(runtime)
    cursor = runtime.attendance.snapshot()
    # Before anything was reconciled, nothing is known to be delivered.
    delivered = cursor.total + len(cursor.unconfirmed) if cursor is not None else 0
    with _translated(runtime):
        await runtime.channel.async_clear_attendance(delivered)
    # The tracker sees the emptied log at the next poll, as it does one cleared at the terminal.
    await runtime.coordinator.async_refresh()


class NoFingerprints(InvalidEnrollmentInput):
    status = HTTPStatus.NOT_FOUND
    code = "no_fingerprints"


class CopyFailed(EnrollmentError):
    """Some terminals did not get the fingers, and the caller asked for no response to say so."""

    code = "copy_failed"


async def async_message(hass: HomeAssistant, err: EnrollmentError) -> str:
    """The error in the server's language (Home Assistant's own default is English)."""
    translations = await async_get_translations(hass, hass.config.language, "exceptions", [DOMAIN])
    template = translations[f"component.{DOMAIN}.exceptions.{err.translation_key}.message"]
    return template.format(**(err.translation_placeholders or {}))


def all_device_ids(hass: HomeAssistant) -> list[str]:
    """The device ids of every terminal configured, set up or not."""
    entries = hass.config_entries.async_entries(DOMAIN, include_ignore=False)
    return [entry.data[CONF_DEVICE_ID] for entry in entries]


async def async_copy_fingerprints(
    hass: HomeAssistant,
    source: ZKTecoRuntimeData,
    user_id: str,
    targets: Iterable[str],
    *,
    overwrite: bool,
    fingers: Collection[int] | None = None,
) -> dict[str, Any]:
    """Copy the person and their templates from ``source`` to each target, side by side.

    ``fingers`` (the terminal's numbers) limits the copy to them. The templates stay in memory.
    Each target answers for itself, by its device id: what was copied, what it kept because it
    has that finger already (unless ``overwrite``), or why it failed.
    """
    user, templates = await _async_read_fingerprints(source, user_id, fingers)
    source_id = source.coordinator.device_id
    device_ids = [device_id for device_id in dict.fromkeys(targets) if device_id != source_id]
    results = await asyncio.gather(
        *(
            _async_copy_to(hass, device_id, user, templates, overwrite=overwrite)
            for device_id in device_ids
        )
    )
    return {"user_id": user_id, "from_device": source_id, "results": results}


async def _async_read_fingerprints(
    source: ZKTecoRuntimeData, user_id: str, fingers: Collection[int] | None
) -> tuple[TerminalUser, list[FingerTemplate]]:
    _idle(source)
    device_id = source.coordinator.device_id
    with _translated(source, user_id):
        users = await source.channel.async_read_users()
        user = next((user for user in users if user.user_id == user_id), None)
        if user is None:
            raise UserNotFound(user_id=user_id, device_id=device_id)
        templates = await source.channel.async_read_templates(user_id)
    if fingers is not None:
        templates = [template for template in templates if template.finger in fingers]
    if not templates:
        raise NoFingerprints(user_id=user_id, device_id=device_id)
    return user, templates


async def _async_copy_to(
    hass: HomeAssistant,
    device_id: str,
    user: TerminalUser,
    templates: list[FingerTemplate],
    *,
    overwrite: bool,
) -> dict[str, Any]:
    """One target's part: its result, never an exception (the others go on)."""
    result: dict[str, Any] = {"device_id": device_id, "user_created": False, "copied": []}
    try:
        target = async_find_terminal(hass, device_id)
        result["device_id"] = target.coordinator.device_id  # picked in the UI: its device
        await _async_write_fingerprints(target, user, templates, result, overwrite=overwrite)
    except EnrollmentError as err:
        result["error"] = err.code
        result["message"] = await async_message(hass, err)
    return result


async def _async_write_fingerprints(
    target: ZKTecoRuntimeData,
    user: TerminalUser,
    templates: list[FingerTemplate],
    result: dict[str, Any],
    *,
    overwrite: bool,
) -> None:
    """The person when the target lacks them, then the fingers, in one all-or-nothing write;
    ``result`` says what was done as it is done."""
    people = await async_read_people(target)
    person = next((person for person in people if person.user.user_id == user.user_id), None)
    with _translated(target, user.user_id):
        if person is None:
            await target.channel.async_write_user(
                user.user_id,
                UserChanges(
                    name=user.name,
                    admin=admin_change(privilege_name(user.privilege)),
                    card=user.card,
                ),
            )
            result["user_created"] = True
        held = person.fingers if person is not None and not overwrite else frozenset()
        kept = frozenset(template.finger for template in templates) & held
        result["kept"] = describe_fingers(kept)
        copying = [template for template in templates if template.finger not in held]
        if copying:
            await target.channel.async_write_templates(user.user_id, copying)
        result["copied"] = describe_fingers(frozenset(t.finger for t in copying))
    await _async_show_change(target)
