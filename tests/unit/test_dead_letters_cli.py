"""`crossroads dead-letters`: bad input is refused by name before the broker is asked anything."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli.dead_letters import app

runner = CliRunner()


def test_a_malformed_id_is_refused_with_the_expected_form() -> None:
    for command in (["show", "1:x"], ["replay", "0:1", "seventeen"]):
        result = runner.invoke(app, command, env={"CROSSROADS_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
        assert result.exit_code == 2, result.output
        assert "dead_letter.bad_id" in result.output and "partition:offset" in result.output


def test_a_since_that_is_no_date_is_refused() -> None:
    result = runner.invoke(app, ["list", "--since", "yesterday"], env={"CROSSROADS_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    assert result.exit_code == 2 and "is not a date" in result.output
