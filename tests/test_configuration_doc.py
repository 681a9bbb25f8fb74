"""docs/configuration.md must list exactly what the services' settings classes read."""

from __future__ import annotations

from tools import configdoc


def test_configuration_doc_every_settings_class_loads():
    classes, missing = configdoc.load_settings_classes()

    assert missing == []
    assert len(classes) == len(configdoc.SETTINGS_CLASSES)


def test_configuration_doc_up_to_date():
    classes, _ = configdoc.load_settings_classes()
    expected = configdoc.render(configdoc.collect(classes))

    current = configdoc.DOC_PATH.read_text() if configdoc.DOC_PATH.exists() else ""

    assert current == expected, (
        "docs/configuration.md is out of date; run "
        "`.venv/bin/python -m tools.configdoc > docs/configuration.md`"
    )


def test_configuration_doc_format_default():
    assert configdoc.format_default(False) == "`0`"
    assert configdoc.format_default(10.0) == "`10`"
    assert configdoc.format_default((5.0, 300.0)) == "`5,300`"
    assert configdoc.format_default("") == "(empty)"
