"""Rules of static/ that a reviewer would otherwise have to remember: colours
live in theme.css alone (dark mode is its second half), message text never
goes through innerHTML-like sinks, and nothing is loaded from another origin."""

import re
from pathlib import Path

import pytest
from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static" / "chat"
TEMPLATES = Path(settings.BASE_DIR) / "templates"
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklch|color)\(")
HTML_SINKS = re.compile(r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\(")
OTHER_ORIGIN = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


def files(folder: Path, pattern: str) -> list[Path]:
    found = sorted(folder.rglob(pattern))
    assert found, f"no {pattern} under {folder}"
    return found


@pytest.mark.parametrize("sheet", files(STATIC, "*.css"), ids=lambda path: path.name)
def test_no_colour_outside_the_theme_sheet(sheet: Path):
    if sheet.name == "theme.css":
        return
    assert COLOUR.findall(sheet.read_text()) == []


def test_the_theme_sheet_has_light_and_dark_for_each_colour():
    text = (STATIC / "theme.css").read_text()
    declarations = re.findall(r"(--[\w-]+):\s*([^;]+);", text)
    assert len(declarations) > 20
    themed = [name for name, value in declarations if value.startswith("light-dark(")]
    # The rest are the same in both themes on purpose (avatars, header text, scrim).
    assert len(themed) >= 25


@pytest.mark.parametrize("module", files(STATIC, "*.js"), ids=lambda path: path.name)
def test_no_html_sink_in_the_modules(module: Path):
    assert HTML_SINKS.findall(module.read_text()) == []


@pytest.mark.parametrize(
    "template", files(TEMPLATES, "*.html"), ids=lambda path: str(path.relative_to(TEMPLATES))
)
def test_templates_load_nothing_from_another_origin(template: Path):
    assert OTHER_ORIGIN.findall(template.read_text()) == []
