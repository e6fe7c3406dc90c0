"""Recording a run in two parts (helpers/book/record_parts.py): Paper A's notebooks 01-04 and Paper
B's 05-08 recorded in different sittings, each with its own commit, date and machine."""

import copy

import pytest
from test_record import _fake_record

from helpers.book import answers, readme, record, record_parts
from helpers.core import recorded
from helpers.core.errors import ReproError


def _part_record(part, commit, val_acc=0.9, top1=0.3):
    """A record collected for ``part`` only, as ``record.collect(part=...)`` lays it out."""
    rec = _fake_record()
    rec.update(commit=commit, date="2026-12-07", recorded_at="2026-12-07T20:00:00+00:00")
    rec["machine"] = {"cores": 16, "ram_gb": 128.0, "gpu": "H100", "cpu_capability": "AVX512"}
    rec["notebooks"] = {k: {"wall_s": 600.0} for k in rec["notebooks"] if record_parts.in_part(k, part)}
    rec["total_wall_s"] = 2400.0
    rec["tables"]["A1"][0]["val_acc"] = record._mean_std([val_acc, val_acc])
    rec["tables"]["B1"][0]["top1"] = record._mean_std([top1])
    rec["tables"] = {k: v for k, v in rec["tables"].items() if k in recorded.PART_TABLES[part]}
    rec["data"] = {"imdb_reviews": {"train": 40}} if part == "paper-a" else {"cub": {"classes": {"test": 60}}}
    rec["models"] = {"A1": {"text": "bert"}} if part == "paper-a" else {"B": {"text": "distilbert"}}
    rec["parts"] = {part: record_parts.own_facts(rec, part)}
    return rec


def test_recording_paper_a_keeps_paper_b_of_a_whole_record():
    old = _fake_record()  # one sitting, written before parts existed
    old["data"], old["models"] = {"cub": {"classes": {"test": 60}}}, {"B": {"text": "tfidf"}}
    merged = record_parts.merge(copy.deepcopy(old), _part_record("paper-a", "a" * 40), "paper-a")

    assert merged["tables"]["A1"][0]["val_acc"]["mean"] == pytest.approx(0.9)
    assert merged["tables"]["B1"] == old["tables"]["B1"] and merged["tables"]["B2"] == []
    assert merged["data"]["cub"] == old["data"]["cub"] and merged["data"]["imdb_reviews"] == {"train": 40}
    assert merged["models"] == {"B": {"text": "tfidf"}, "A1": {"text": "bert"}}
    # Paper B's notebooks and sitting are the old record's; Paper A's are the new part's
    assert [merged["notebooks"][f"0{i}_x"]["wall_s"] for i in (1, 4, 5, 8)] == [600.0, 600.0, 300.0, 480.0]
    assert merged["total_wall_s"] == pytest.approx(4 * 600 + 60 * (5 + 6 + 7 + 8))
    assert merged["parts"]["paper-a"]["commit"] == "a" * 40
    assert merged["parts"]["paper-b"]["commit"] == old["commit"]
    assert merged["parts"]["paper-b"]["total_wall_s"] == pytest.approx(60 * (5 + 6 + 7 + 8))

    caption = recorded.caption(merged)
    assert caption.startswith("full run in two parts, Paper A (notebooks 01-04) from commit aaaaaaaaaa")
    assert "on 2026-12-07 (16 CPU cores (AVX512), 128 GB RAM, GPU H100; 40 min 00 s)" in caption
    assert "Paper B (notebooks 05-08) from commit 0123456789 on 2026-11-25" in caption
    section = readme.readme_section(merged)
    assert "| alexnet | 0.900 ± 0.000 |" in section and "| TF-IDF | VGG | 0.100 |" in section


def test_both_parts_recorded_alike_read_as_one_run_and_a_missing_part_says_so():
    a = _part_record("paper-a", "b" * 40)
    only_a = record_parts.merge(None, copy.deepcopy(a), "paper-a")
    assert "Paper B (notebooks 05-08) not recorded yet" in recorded.caption(only_a)
    section = readme.readme_section(only_a)
    assert section.count("Not recorded yet: `python -m helpers.run paper-b record --profile full`") == 2
    assert answers.paper_b(only_a) == "Paper B's part of the run (notebooks 05-08) is not recorded yet."
    assert recorded.recorded_frame("B1", only_a).empty

    both = record_parts.merge(only_a, _part_record("paper-b", "b" * 40, top1=0.4), "paper-b")
    assert list(both["parts"]) == ["paper-a", "paper-b"] and len(both["notebooks"]) == 8
    assert both["tables"]["A1"] == a["tables"]["A1"]
    assert both["tables"]["B1"][0]["top1"]["mean"] == pytest.approx(0.4)
    # same commit, day and machine: the caption of a run in one sitting
    assert recorded.caption(both).startswith("full run of commit bbbbbbbbbb on 2026-12-07")
    assert "Not recorded yet" not in readme.readme_section(both)

    again = record_parts.merge(both, _part_record("paper-a", "c" * 40, val_acc=0.7), "paper-a")
    assert again["tables"]["A1"][0]["val_acc"]["mean"] == pytest.approx(0.7)
    assert again["tables"]["B1"] == both["tables"]["B1"]
    assert [again["parts"][p]["commit"][0] for p in ("paper-a", "paper-b")] == ["c", "b"]


def test_a_part_of_another_run_or_an_unknown_part_is_refused(tmp_path):
    other = _part_record("paper-a", "d" * 40)
    other["profile"] = "quick"
    with pytest.raises(ReproError, match="one file holds one run"):
        record_parts.merge(_fake_record(), other, "paper-a")
    with pytest.raises(ReproError, match="Unknown part 'paper-c'"):
        record.write("smoke", results_dir=tmp_path, part="paper-c")


def test_recording_paper_b_checks_only_its_notebooks(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "art"))
    with pytest.raises(ReproError) as err:
        record.write("smoke", executed_dir=tmp_path / "executed", results_dir=tmp_path, part="paper-b")
    assert "05_retrieval_data was not executed" in str(err.value)
    assert "01_bert_cls" not in str(err.value) and "helpers.run paper-b --profile smoke" in str(err.value)
    assert not (tmp_path / "smoke.json").exists()


@pytest.mark.slow
def test_the_smoke_run_recorded_in_two_parts_equals_it_recorded_whole(smoke_run, monkeypatch, tmp_path):
    monkeypatch.setenv("REPRO_ARTIFACTS", str(smoke_run.artifacts))
    monkeypatch.setenv("REPRO_EXECUTED", str(smoke_run.executed_dir))
    whole = record.load("smoke", results_dir=record.write("smoke", results_dir=tmp_path / "whole").parent)
    record.write("smoke", results_dir=tmp_path / "parts", part="paper-b")
    only_b = record.load("smoke", results_dir=tmp_path / "parts")
    assert set(only_b["tables"]) == {"B1", "B2", "B1_shipped"} and list(only_b["parts"]) == ["paper-b"]
    assert set(only_b["notebooks"]) == {k for k in whole["notebooks"] if k[:2] >= "05"}
    record.write("smoke", results_dir=tmp_path / "parts", part="paper-a")
    parts = record.load("smoke", results_dir=tmp_path / "parts")
    for key in ("tables", "notebooks", "data", "models", "commit", "total_wall_s"):
        assert parts[key] == whole[key], key
    assert parts["parts"].keys() == whole["parts"].keys() == set(recorded.PARTS)
    for name, facts in parts["parts"].items():
        assert facts["commit"] == whole["commit"] and facts["total_wall_s"] > 0
        assert facts["total_wall_s"] == whole["parts"][name]["total_wall_s"]
    assert recorded.caption(parts).startswith(f"smoke run of commit {whole['commit'][:10]}")
