"""Each topic family's retention follows its setting; short-lived topics roll their segments daily."""

from __future__ import annotations

from streams.catalog import CATALOG, DAY_MS, FOREVER, YEAR_MS, Area, Cleanup, by_key
from streams.settings import Settings


def test_the_retention_of_a_family_follows_its_setting() -> None:
    settings = Settings(retention_rejections_days=3, retention_audit_years=12)
    assert by_key(Area.OUTCOMES, "rejections").resolved(settings).retention_ms == 3 * DAY_MS
    assert by_key(Area.AUDIT, "exchanges").resolved(settings).retention_ms == 12 * YEAR_MS
    assert by_key(Area.FACTS, "civil").resolved(settings).retention_ms == 30 * YEAR_MS
    intake = by_key(Area.INTAKE, "dimona")
    assert intake.resolved(settings) is intake  # a fixed period: nothing to resolve


def test_no_topic_that_deletes_keeps_forever_and_short_ones_roll_daily() -> None:
    settings = Settings()
    for spec in (s.resolved(settings) for s in CATALOG):
        config = spec.config()
        if spec.cleanup is Cleanup.COMPACT:
            assert "retention.ms" not in config, spec.name
            continue
        assert spec.retention_ms != FOREVER, f"{spec.area}.{spec.name} keeps personal data forever"
        if spec.retention_ms <= 30 * DAY_MS:
            assert config["segment.ms"] == str(DAY_MS), spec.name
        else:
            assert "segment.ms" not in config, spec.name
