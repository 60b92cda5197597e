"""What hassfest and the HACS action would check, offline: manifest, hacs.json, services,
translations, icons and the quality-scale self-audit."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
import importlib
import json
from pathlib import Path
import re
from typing import Any

from homeassistant import components
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import EntityDescription
import pytest
import voluptuous as vol
import yaml

from custom_components.zkteco import PLATFORMS
from custom_components.zkteco.const import DOMAIN
from custom_components.zkteco.repairs import Issue
from custom_components.zkteco.services import async_setup_services

ROOT = Path(__file__).parent.parent
INTEGRATION = ROOT / "custom_components" / DOMAIN
LANGUAGES = ("en", "es")
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")

REQUIRED_MANIFEST_KEYS = {
    "domain",
    "name",
    "codeowners",
    "config_flow",
    "dependencies",
    "documentation",
    "integration_type",
    "iot_class",
    "issue_tracker",
    "loggers",
    "requirements",
    "version",
}
IOT_CLASSES = {
    "assumed_state",
    "calculated",
    "cloud_polling",
    "cloud_push",
    "local_polling",
    "local_push",
}
# Peblar is platinum: its self-audit lists every rule of the scale this Home Assistant knows.
SCALE_RULES = yaml.safe_load(
    (Path(components.__path__[0]) / "peblar" / "quality_scale.yaml").read_text(encoding="utf-8")
)["rules"]


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


MANIFEST = load_json(INTEGRATION / "manifest.json")
HACS = load_json(ROOT / "hacs.json")
ICONS = load_json(INTEGRATION / "icons.json")
SERVICES_YAML = yaml.safe_load((INTEGRATION / "services.yaml").read_text(encoding="utf-8"))
QUALITY_SCALE = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))
TRANSLATIONS = {
    language: load_json(INTEGRATION / "translations" / f"{language}.json") for language in LANGUAGES
}


def leaves(tree: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every string in a nested translation file."""
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from leaves(value, (*path, key))
        else:
            yield (*path, key)


def lookup(tree: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def assert_translated(*path: str) -> None:
    """A non-empty string at ``path`` in every language."""
    for language, tree in TRANSLATIONS.items():
        try:
            text = lookup(tree, *path)
        except KeyError:
            pytest.fail(f"{language}.json lacks {'.'.join(path)}")
        assert isinstance(text, str), f"{language}.json: {'.'.join(path)} is not a text"
        assert text.strip(), f"{language}.json: {'.'.join(path)} is empty"


# -- manifest.json and hacs.json ---------------------------------------------------------------


def test_manifest_keys_in_hassfest_order() -> None:
    """domain, name, then the rest alphabetically: hassfest rejects any other order."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_has_what_custom_integrations_need() -> None:
    assert set(MANIFEST) >= REQUIRED_MANIFEST_KEYS


def test_manifest_values() -> None:
    assert MANIFEST["domain"] == DOMAIN == INTEGRATION.name
    assert MANIFEST["config_flow"] is True
    assert MANIFEST["requirements"] == ["pyzk==0.9"]
    assert MANIFEST["dependencies"] == ["http"]
    assert MANIFEST["integration_type"] == "device"
    assert MANIFEST["iot_class"] in IOT_CLASSES
    assert MANIFEST["codeowners"]
    assert all(owner.startswith("@") for owner in MANIFEST["codeowners"])
    assert MANIFEST["issue_tracker"].startswith(MANIFEST["documentation"])
    # The dependency's logger only: Home Assistant sets our own package's level by itself.
    assert MANIFEST["loggers"] == ["zk"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", MANIFEST["version"])


def oldest_tested_home_assistant() -> str:
    """The Home Assistant pinned by requirements_test_oldest.txt, else by requirements_test.txt."""
    oldest = ROOT / "requirements_test_oldest.txt"
    requirements = oldest if oldest.exists() else ROOT / "requirements_test.txt"
    pins = re.findall(
        r"^homeassistant==(\S+)", requirements.read_text(encoding="utf-8"), re.MULTILINE
    )
    assert pins, f"{requirements.name} must pin homeassistant==<version> to back hacs.json"
    return str(pins[0])


def test_hacs_json() -> None:
    assert HACS["name"] == MANIFEST["name"]
    assert HACS["render_readme"] is True
    assert set(HACS) <= {"name", "homeassistant", "render_readme", "hacs", "country"}


def test_hacs_claims_the_oldest_version_tested() -> None:
    assert HACS["homeassistant"] == oldest_tested_home_assistant()


# -- translations --------------------------------------------------------------------------------


def test_languages_have_the_same_keys() -> None:
    assert set(leaves(TRANSLATIONS["en"])) == set(leaves(TRANSLATIONS["es"]))


def test_placeholders_match_between_languages() -> None:
    for path in leaves(TRANSLATIONS["en"]):
        found = {
            language: set(PLACEHOLDER.findall(lookup(tree, *path)))
            for language, tree in TRANSLATIONS.items()
        }
        assert found["en"] == found["es"], ".".join(path)


def entity_descriptions() -> Iterator[tuple[str, EntityDescription]]:
    """Every entity description of every platform, with its platform."""
    for platform in PLATFORMS:
        module = importlib.import_module(f"custom_components.{DOMAIN}.{platform}")
        for value in vars(module).values():
            for candidate in value if isinstance(value, tuple) else (value,):
                if is_entity_description(candidate):
                    yield str(platform), candidate


def is_entity_description(value: object) -> bool:
    # Home Assistant rebuilds the thawed description classes, so isinstance() misses some.
    return any(cls.__name__ == EntityDescription.__name__ for cls in type(value).__mro__)


ENTITIES = sorted(
    {
        (platform, description.key): description for platform, description in entity_descriptions()
    }.items()
)
ENTITY_IDS = [f"{platform}.{key}" for (platform, key), _ in ENTITIES]


def entity_states(description: EntityDescription) -> list[str]:
    """The states (or event types) an entity may show, each needing a translation."""
    if type(description).__name__ == "BinarySensorEntityDescription":
        return ["on", "off"]
    return list(
        getattr(description, "options", None) or getattr(description, "event_types", None) or []
    )


def state_path(platform: str, description: EntityDescription) -> tuple[str, ...]:
    key = str(description.translation_key)
    if platform == "event":
        return ("entity", platform, key, "state_attributes", "event_type", "state")
    return ("entity", platform, key, "state")


@pytest.mark.parametrize(
    ("platform", "description"),
    [(platform, description) for (platform, _), description in ENTITIES],
    ids=ENTITY_IDS,
)
def test_entity_is_translated(platform: str, description: EntityDescription) -> None:
    """Named in both languages, with every state, unless the device class names it."""
    if description.translation_key is None:
        assert getattr(description, "device_class", None) is not None, description.key
        return
    assert_translated("entity", platform, description.translation_key, "name")
    for state in entity_states(description):
        assert_translated(*state_path(platform, description), state)


@pytest.mark.parametrize(
    ("platform", "description"),
    [(platform, description) for (platform, _), description in ENTITIES],
    ids=ENTITY_IDS,
)
def test_entity_has_an_icon(platform: str, description: EntityDescription) -> None:
    if description.translation_key is None:
        return  # the device class brings its icon
    icon = ICONS["entity"][platform][description.translation_key]
    assert icon["default"].startswith("mdi:")
    assert set(icon.get("state", {})) <= set(entity_states(description))


def raised_translation_keys() -> set[str]:
    """Keys of every exception the code raises with a translation (calls and ``code = ...``)."""
    keys: set[str] = set()
    for source in INTEGRATION.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                arguments = {keyword.arg: keyword.value for keyword in node.keywords}
                key = arguments.get("translation_key")
                if "translation_domain" in arguments and isinstance(key, ast.Constant):
                    keys.add(key.value)
            elif isinstance(node, ast.ClassDef):
                keys.update(
                    statement.value.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    and [getattr(target, "id", None) for target in statement.targets] == ["code"]
                    and isinstance(statement.value, ast.Constant)
                )
    return keys


def test_the_code_raises_translated_exceptions() -> None:
    """The scan itself works: it finds the exceptions we know of."""
    assert {"cannot_connect", "invalid_auth", "device_not_found"} <= raised_translation_keys()


@pytest.mark.parametrize("key", sorted(raised_translation_keys()))
def test_exception_is_translated(key: str) -> None:
    assert_translated("exceptions", key, "message")


@pytest.mark.parametrize("issue", list(Issue))
def test_repair_issue_is_translated(issue: Issue) -> None:
    """A title, and the text of its fix flow when it has one, else a description."""
    assert_translated("issues", issue, "title")
    if issue is Issue.CLOCK_WRONG:
        for step_part in ("title", "description"):
            assert_translated("issues", issue, "fix_flow", "step", "confirm", step_part)
        assert_translated("issues", issue, "fix_flow", "error", "clock_not_set")
        assert_translated("issues", issue, "fix_flow", "abort", "not_loaded")
    else:
        assert_translated("issues", issue, "description")


# -- services ------------------------------------------------------------------------------------


async def test_services_match_services_yaml(hass: HomeAssistant) -> None:
    """Each registered action is described, with exactly its schema's fields."""
    async_setup_services(hass)
    registered = hass.services.async_services()[DOMAIN]
    assert set(registered) == set(SERVICES_YAML)
    for name, service in registered.items():
        assert isinstance(service.schema, vol.Schema)
        fields = {str(marker) for marker in service.schema.schema}
        assert fields == set(SERVICES_YAML[name]["fields"]), name


@pytest.mark.parametrize("service", sorted(SERVICES_YAML))
def test_service_is_translated(service: str) -> None:
    assert_translated("services", service, "name")
    assert_translated("services", service, "description")
    for field, spec in SERVICES_YAML[service]["fields"].items():
        assert_translated("services", service, "fields", field, "name")
        assert_translated("services", service, "fields", field, "description")
        select = (spec.get("selector") or {}).get("select") or {}
        if key := select.get("translation_key"):
            for option in select["options"]:
                assert_translated("selector", key, "options", str(option))


@pytest.mark.parametrize("service", sorted(SERVICES_YAML))
def test_service_has_an_icon(service: str) -> None:
    assert ICONS["services"][service]["service"].startswith("mdi:")


# -- quality scale -------------------------------------------------------------------------------


def test_quality_scale_lists_every_rule() -> None:
    """Every rule Home Assistant knows (older versions know fewer)."""
    assert set(SCALE_RULES) <= set(QUALITY_SCALE["rules"])


TIERS = ("bronze", "silver", "gold", "platinum")


def _rule_tiers() -> dict[str, str]:
    """Each rule's tier, from the tier comments that head each group in quality_scale.yaml."""
    tiers, tier = {}, TIERS[0]
    for line in (INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8").splitlines():
        if (heading := line.strip().lstrip("# ").lower()) in TIERS:
            tier = heading
        elif line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            tiers[line.strip().rstrip(":")] = tier
    return tiers


RULE_TIERS = _rule_tiers()


@pytest.mark.parametrize("rule", sorted(QUALITY_SCALE["rules"]))
def test_quality_scale_rule_is_met(rule: str) -> None:
    """Done or exempt up to the claimed tier; above it, todo is honest. Each with its reason."""
    entry = QUALITY_SCALE["rules"].get(rule)
    assert isinstance(entry, dict), f"{rule}: needs a status and a comment"
    claimed = TIERS.index(MANIFEST["quality_scale"])
    if TIERS.index(RULE_TIERS[rule]) <= claimed:
        assert entry["status"] in {"done", "exempt"}, (
            f"{rule}: {entry['status']}: {entry.get('comment')}"
        )
    assert str(entry.get("comment", "")).strip(), f"{rule}: no comment"


# -- the tests themselves ------------------------------------------------------------------------


def imported_test_modules(source: str) -> set[str]:
    """The test modules (test_*) that ``source`` imports from."""
    return {
        node.module.rsplit(".", 1)[-1]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.rsplit(".", 1)[-1].startswith("test_")
    }


@pytest.mark.parametrize(
    "module", sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py"))
)
def test_tests_share_helpers_through_conftest(module: str) -> None:
    """Helpers live in conftest.py, as in Home Assistant's own tests: test modules stay apart."""
    assert imported_test_modules((ROOT / module).read_text(encoding="utf-8")) == set()
