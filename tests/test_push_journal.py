"""The journal of the punches a Push terminal delivered (push/journal.py)."""

from __future__ import annotations

from functools import partial
from unittest.mock import patch

from homeassistant.core import HomeAssistant
import pytest

from custom_components.zkteco.push.journal import PunchJournal, journal_path

from .conftest import PUSH_SERIAL


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """The journal is a real file in `.storage`: one directory per test."""
    return hass_tmp_config_dir


async def test_the_journal_stays_bounded(hass: HomeAssistant) -> None:
    """Past twice its bound it is compacted to the newest keys; a line a crash cut short is
    dropped, and the next one does not join it."""
    with patch("custom_components.zkteco.push.journal.REMEMBERED", 3):
        journal = PunchJournal(hass, PUSH_SERIAL)
        await journal.async_load()
        for key in "abcdefg":
            journal.add([key])
            await journal.async_flush()
        path = journal_path(hass, PUSH_SERIAL)
        await hass.async_add_executor_job(partial(path.write_text, "e\nf\ng\nh", "utf-8"))

        again = PunchJournal(hass, PUSH_SERIAL)
        await again.async_load()
        again.add(["i"])
        await again.async_flush()
        text = await hass.async_add_executor_job(partial(path.read_text, "utf-8"))

    assert [key in again for key in "defghi"] == [False, False, True, True, False, True]
    assert text == "e\nf\ng\ni\n"
