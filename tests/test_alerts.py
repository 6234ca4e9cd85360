"""config/prometheus-alerts.yml: valid rules by `promtool check rules`, and the dead-letter alert
fires on a dead letter (`promtool test rules`), naming only metrics that /metrics exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hackserver.foundation import metrics
from tests.conftest import unavailable

RULES = Path(__file__).parent.parent / "config" / "prometheus-alerts.yml"
# Gauges read from the database at each scrape (hackserver/web/health.py), beside the process metrics.
SCRAPE_GAUGES = {
    "hackserver_outbox_messages",
    "hackserver_clock_items",
    "hackserver_outbox_oldest_pending_seconds",
}


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool is not installed (Debian's prometheus package has it)")
    assert found is not None
    return found


def test_the_alert_rules_are_valid(promtool: str) -> None:
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 4 rules found" in checked.stdout


def test_a_dead_letter_fires_its_alert(promtool: str, tmp_path: Path) -> None:
    test = tmp_path / "dead.yml"
    test.write_text(
        f"""rule_files: [{RULES}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'hackserver_deliveries_total{{platform="slack", outcome="dead"}}'
        values: '0 0 1 1 1'
    alert_rule_test:
      - eval_time: 1m
        alertname: HackserverDeadLetters
        exp_alerts: []
      - eval_time: 3m
        alertname: HackserverDeadLetters
        exp_alerts:
          - exp_labels: {{severity: page, platform: slack}}
            exp_annotations:
              summary: "1 messages to slack could not be delivered"
              description: "The dashboard lists them with their error and a Retry button (POST /api/v1/outbox/{{id}}/retry)."
"""
    )
    tested = subprocess.run(
        [promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rules_name_only_metrics_hackserver_exposes() -> None:
    exposed = set(SCRAPE_GAUGES)
    for family in metrics.REGISTRY.collect():
        exposed |= {family.name, f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_count"}
    named = set(re.findall(r"hackserver_[a-z_]+", RULES.read_text()))
    assert named <= exposed, named - exposed
