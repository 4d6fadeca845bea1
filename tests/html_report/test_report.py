"""`apeopt report`: collecting runs and batches, the HTML (tables, embedded images, escaping), one-line errors."""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run_cli
from apeopt.errors import UserError
from apeopt.html_report import build_report, collect


class Page(HTMLParser):
    """Tags and attributes of a page, to assert on its structure."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


# ----- collect ---------------------------------------------------------------------------
def test_collect_batch_from_storage_and_job_folders(report_fixture):
    col = collect([report_fixture.batch])
    (batch,) = col.batches
    assert batch.name == "nightly" and "batch.db" in batch.source
    jobs = {j.key: j for j in batch.jobs}
    assert len(jobs) == 4
    keys = report_fixture.keys
    assert {state: jobs[key].state for state, key in keys.items()} == {s: s for s in keys}
    done, failed = jobs[keys["done"]], jobs[keys["failed"]]
    assert done.tries == 1 and done.seconds == 3.5 and done.run is not None and done.run.status == "complete"
    assert failed.tries == 1 and "model server went away" in failed.error and failed.run is None
    assert jobs[keys["pending"]].tries == 0 and jobs[keys["running"]].run.status == "incomplete"
    run = done.run
    assert [m.method for m in run.methods] == ["human", "few_shot", "winner"]
    winner = run.method("winner")
    assert winner.test.score == 1.0 and winner.test.lo < 1.0 and winner.test_shift is not None and winner.test.n == 100
    assert run.evaluations and run.leaderboard and run.leaderboard[0].rank == 1 and run.lm_calls and run.tokens
    assert run.study and run.study.startswith("sqlite:///") and " — optimize " in run.label and "task=toy.yaml seed=0" in run.label
    half = jobs[keys["running"]].run
    assert half.evaluations and half.lm_calls == sum(e.lm_calls for e in half.evaluations)  # cost so far from the log
    assert len(col.runs) == 2


def test_collect_batch_from_files_alone(report_fixture, tmp_path):
    copy = tmp_path / "batch-copy"
    shutil.copytree(report_fixture.batch, copy)
    (copy / "batch.db").unlink()
    (batch,) = collect([copy]).batches
    assert batch.source == "job folders"
    assert sorted(j.state for j in batch.jobs) == ["complete", "incomplete"]
    (copy / "batch.db").write_text("not a database")
    (batch,) = collect([copy]).batches
    assert "unreadable" in batch.source and len(batch.jobs) == 2


def test_collect_compare_run(report_fixture):
    (run,) = collect([report_fixture.compare]).runs
    assert run.kind == "compare" and run.task == "plural" and run.metric == "exact_match"
    assert [m.method for m in run.methods] == ["human", "k-shot-5", "apeopt", "lora"]
    assert run.headline().method == "lora" and run.lm_calls == 600 and run.wall_seconds == 46.0


def test_latest_and_bad_paths(report_fixture, tmp_path, monkeypatch):
    monkeypatch.chdir(report_fixture.root)
    assert len(collect(["latest"]).runs) == 1
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    for bad, fragment in ((tmp_path / "nope", "does not exist"), (tmp_path / "empty", "neither"), (tmp_path / "file.txt", "neither")):
        with pytest.raises(UserError, match=fragment):
            collect([bad])


# ----- HTML ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page_html(report_fixture) -> str:
    html, _ = build_report([report_fixture.batch, report_fixture.run, report_fixture.compare], top=50)
    return html


def test_html_has_tables_and_embedded_images(page_html):
    page = parse(page_html)
    classes = [a.get("class", "") for a in page.all("table")]
    for cls in ("batch", "compare", "leaderboard", "cost", "front"):
        assert cls in classes, classes
    images = page.all("img")
    # comparisons for tasks toy and plural, score-by-round for toy (plural: compare only), and the dev-score x
    # tokens front of the two finished optimize runs (the batch's done job and the standalone run)
    assert len(images) == 5
    assert len([i for i in images if i["alt"].startswith("dev score x tokens")]) == 2
    for img in images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,"), src[:40]
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for t, attrs in page.tags:  # nothing loaded from anywhere: no external URL in any attribute
        for k, v in attrs.items():
            assert not v.startswith(("http:", "https:", "//")), (t, k, v)
    assert "<link" not in page_html and "@import" not in page_html
    for text in ("nightly", "model server went away", "running", "pending", "failed", "k-shot-5", "lora",
                 "optuna-dashboard sqlite:///", "batch.db", "Score by round"):
        assert text in page_html, text


def test_html_escapes_model_written_text(page_html, report_fixture):
    assert report_fixture.evil not in page_html and "<b>more</b>" not in page_html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; Do the task &amp; &lt;b&gt;more&lt;/b&gt;." in page_html
    assert "&lt;oops&gt;" in page_html
    assert len([t for t, _ in parse(page_html).tags if t == "script"]) == 1  # only the report's own image check


def test_cli_writes_report(report_fixture, tmp_path, monkeypatch, capsys):
    out = tmp_path / "report.html"
    code, _, err = run_cli(monkeypatch, capsys, "report", str(report_fixture.batch), str(report_fixture.compare), "-o", str(out))
    assert code == 0, err
    assert "wrote" in err and out.read_text().startswith("<!DOCTYPE html>")


def test_cli_bad_inputs_are_one_line_errors(report_fixture, tmp_path, monkeypatch, capsys):
    out = str(tmp_path / "r.html")
    assert_user_error(run_cli(monkeypatch, capsys, "report", str(tmp_path / "nope"), "-o", out), "nope", "does not exist")
    (tmp_path / "plain").mkdir()
    assert_user_error(run_cli(monkeypatch, capsys, "report", str(tmp_path / "plain"), "-o", out), "plain", "neither an apeopt run")
    assert_user_error(run_cli(monkeypatch, capsys, "report", str(report_fixture.run), "-o", str(tmp_path)), "is a folder")
    broken = tmp_path / "broken"
    shutil.copytree(report_fixture.run, broken)
    (broken / "summary.json").write_text('{"task": ')
    assert_user_error(run_cli(monkeypatch, capsys, "report", str(broken), "-o", out), "summary.json", "not valid JSON")
    code, _, err = run_cli(monkeypatch, capsys, "report", "-o", out)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not Path(out).exists()
    json.loads((report_fixture.run / "summary.json").read_text())  # the fixture is untouched


def test_a_done_job_whose_folder_is_gone_shows_what_batch_db_recorded(report_fixture, tmp_path):
    copy = tmp_path / "batch-copy"
    shutil.copytree(report_fixture.batch, copy)
    done = report_fixture.keys["done"]
    shutil.rmtree(copy / done)
    (batch,) = collect([copy]).batches
    job = next(j for j in batch.jobs if j.key == done)
    assert job.state == "done" and job.run is None and job.recorded["test"].score == 1.0 and job.recorded["lm_calls"] > 0
    html, _ = build_report([copy])
    assert "1.000 [0.96, 1.00] n=100" in html


def test_a_run_on_a_database_shows_its_storage_url_without_the_password(tmp_path):
    import json

    from apeopt.html_report.collect import read_run

    run = tmp_path / "r1"
    run.mkdir()
    url = "postgresql://ana:s3cr3t@db.example:5432/studies"
    (run / "config.json").write_text(json.dumps({"optimize": {"task": "plural", "storage": url}}))
    shown = read_run(run).study
    assert shown == "postgresql://ana:***@db.example:5432/studies" and "s3cr3t" not in shown
