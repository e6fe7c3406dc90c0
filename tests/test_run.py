"""The papermill runner: parameters, execution cache, failures (helpers/book/run.py)."""

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.book import cli, notebook_graph, run
from helpers.core import tasks
from helpers.core.errors import ReproError

BODY = """
from helpers.core import artifacts
run = artifacts.resolve_run(run, profile)
art = artifacts.Artifact("07_tiny", {"n": n}, run=run)
if not art.exists():
    with art.build() as tmp:
        (tmp / "value.txt").write_text(str(n * 2))
if n < 0:
    raise ValueError("n must not be negative")
print("value", (art.path / "value.txt").read_text())
"""


def _write_notebook(path):
    params = new_code_cell('profile = "quick"\nrun = ""\nn = 1', metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[new_markdown_cell("# Tiny"), params, new_code_cell(BODY)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "art"))
    src = tmp_path / "src"
    src.mkdir()
    return _write_notebook(src / "07_tiny.ipynb"), tmp_path / "executed"


def _stdout(path):
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_parameters_are_injected_and_execution_is_cached(tiny, tmp_path):
    src, out_dir = tiny
    out, ran = run.execute(src, {"profile": "smoke", "n": 21}, out_dir=out_dir)
    assert ran and "value 42" in _stdout(out)
    meta = nbformat.read(out, as_version=4).metadata["repro"]
    assert meta["params"] == {"profile": "smoke", "n": 21}
    assert len(meta["artifacts"]) == 1

    _, ran = run.execute(src, {"profile": "smoke", "n": 21}, out_dir=out_dir)
    assert not ran  # unchanged source, parameters and artifacts: reused

    out, ran = run.execute(src, {"profile": "smoke", "n": 5}, out_dir=out_dir)
    assert ran and "value 10" in _stdout(out)

    # deleting the artifact a cached notebook produced forces a re-execution
    for p in (tmp_path / "art" / "07_tiny").iterdir():
        (p / "artifact.json").unlink(missing_ok=True)
    out, ran = run.execute(src, {"profile": "smoke", "n": 5}, out_dir=out_dir)
    assert ran and "value 10" in _stdout(out)
    rebuilt = nbformat.read(out, as_version=4).metadata["repro"]["artifacts"]
    assert len(rebuilt) == 1 and (Path(rebuilt[0]) / "artifact.json").is_file()  # not the damaged one


def test_failed_notebook_keeps_previous_output_and_reports_cell(tiny):
    src, out_dir = tiny
    good, _ = run.execute(src, {"profile": "smoke", "n": 1}, out_dir=out_dir)
    with pytest.raises(ReproError, match="ValueError: n must not be negative") as err:
        run.execute(src, {"profile": "smoke", "n": -1}, out_dir=out_dir)
    assert "failed/07_tiny.ipynb" in str(err.value)
    assert (out_dir / "failed" / "07_tiny.ipynb").is_file()
    assert "value 2" in _stdout(good)  # the last good execution is untouched
    assert not list(out_dir.glob(".*running*"))


def test_select_and_profiles_resolve_real_notebooks():
    every = run.notebooks()
    assert [p.name[:2] for p in every] == sorted(p.name[:2] for p in every)
    if not every:
        pytest.skip("no notebooks yet")
    first = every[0]
    assert run.select([first.name[:2]]) == [first]
    assert run.select(["all"]) == every
    with pytest.raises(ReproError, match="No notebook called"):
        run.select(["99_nothing"])
    for nb in every:
        for profile in ("smoke", "quick", "paper"):
            params = run.profile_parameters(nb.stem, profile)
            assert params["profile"] == profile


def test_overrides_are_yaml_typed_and_profile_checked():
    assert run.parse_overrides([["n", "3"], ["seeds", "[0, 1]"], ["name", "bert"]]) == {
        "n": 3,
        "seeds": [0, 1],
        "name": "bert",
    }
    assert cli.main(["all", "--profile", "huge"]) == 1


def test_recomputed_upstream_artifact_reexecutes_the_notebooks_that_read_it(tiny):
    """A notebook that reads 03's artifact (``artifacts.latest(run, "03_up")``) runs again when 03
    produced a new one; a notebook that does not read it is reused."""
    from helpers.core import artifacts

    src, out_dir = tiny
    reader = src.with_name("07_reader.ipynb")
    nb = nbformat.read(src, as_version=4)
    nb.cells[
        2
    ].source = 'from helpers.core import artifacts\nup = artifacts.latest(run or profile, "03_up")\nprint(up)'
    nbformat.write(nb, reader)
    params = {"profile": "smoke", "n": 3}

    def upstream(version):
        art = artifacts.Artifact("03_up", {"v": version}, run="smoke")
        with art.build():
            pass

    upstream(1)
    assert notebook_graph.dependencies(reader) == {"03_up"} and notebook_graph.dependencies(src) == set()
    assert run.execute(reader, params, out_dir=out_dir)[1]
    assert run.execute(src, params, out_dir=out_dir)[1]
    assert not run.execute(reader, params, out_dir=out_dir)[1]
    upstream(2)  # notebook 03 of the same run produced a new artifact
    assert run.execute(reader, params, out_dir=out_dir)[1]
    assert not run.execute(reader, params, out_dir=out_dir)[1]
    assert not run.execute(src, params, out_dir=out_dir)[1]  # it does not read 03


def test_the_real_dependency_graph():
    graph = {p.stem[:2]: sorted(d[:2] for d in notebook_graph.dependencies(p)) for p in run.notebooks()}
    assert graph == {
        "01": [],
        "02": ["01"],
        "03": ["01", "02"],
        "04": ["01", "02", "03"],
        "05": [],
        "06": ["05"],
        "07": ["06"],
        "08": ["07"],
    }
    assert notebook_graph.ancestors("08_projection_weights", run.notebooks()) == {
        "05_retrieval_data",
        "06_finetune_encoders",
        "07_retrieval",
    }


def test_independent_notebooks_run_side_by_side_in_dependency_order(tmp_path, monkeypatch):
    """Two chains (a1 -> a2, b1) with jobs=2 on 2 cores: b1 (1 thread) runs while a1 (1 thread)
    does; a2 (2 threads) only after a1, which it reads, and after b1, because it needs both cores;
    every notebook keeps the threads its parameters give it; the outputs come back in file order;
    placement parameters do not enter the execution cache."""
    monkeypatch.setenv("REPRO_ARTIFACTS", str(tmp_path / "art"))
    src = tmp_path / "src"
    src.mkdir()
    body = (
        "import time, json, pathlib\n"
        "from helpers.core import artifacts\n"
        "{read}"
        "start = time.time(); time.sleep(3)\n"
        "art = artifacts.Artifact('{stem}', {{}}, run=run or profile)\n"
        "with art.build() as tmp:\n"
        "    (tmp / 'span.json').write_text(json.dumps([start, time.time(), cpu_threads]))\n"
    )
    for stem, read, n_threads in (
        ("01_a1", "", 1),
        ("02_a2", "artifacts.latest(run or profile, '01_a1')\n", 2),
        ("05_b1", "time.sleep(2)\n", 1),
    ):
        params = new_code_cell(
            f'profile = "quick"\nrun = ""\ncpu_threads = {n_threads}', metadata={"tags": ["parameters"]}
        )
        nb = new_notebook(cells=[params, new_code_cell(body.format(read=read, stem=stem))])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, src / f"{stem}.ipynb")
    monkeypatch.setattr(tasks, "cores", lambda: 2)
    paths = sorted(src.glob("*.ipynb"))
    outs = run.execute_many(paths, "smoke", {}, out_dir=tmp_path / "executed", jobs=2)
    assert [o.stem for o in outs] == ["01_a1", "02_a2", "05_b1"]
    span = {
        s: json.loads(next((tmp_path / "art").glob(f"{s}/*/span.json")).read_text())
        for s in ("01_a1", "02_a2", "05_b1")
    }
    assert span["05_b1"][0] < span["01_a1"][1] and span["01_a1"][0] < span["05_b1"][1]  # side by side
    assert span["02_a2"][0] >= span["01_a1"][1]  # after what it reads
    assert span["02_a2"][0] >= span["05_b1"][1]  # two threads: only once both cores are free
    assert [span[s][2] for s in ("01_a1", "02_a2", "05_b1")] == [1, 2, 1]  # never changed by the runner
    meta = nbformat.read(outs[0], as_version=4).metadata["repro"]
    assert "cpu_threads" not in meta["params"]
    again = run.execute_many(paths, "smoke", {}, out_dir=tmp_path / "executed", jobs=1)
    assert again == outs  # one at a time, same fingerprints: all reused
    assert json.loads(next((tmp_path / "art").glob("01_a1/*/span.json")).read_text()) == span["01_a1"]


def test_unknown_parameter_is_refused(tiny):
    src, out_dir = tiny
    with pytest.raises(ReproError, match="has no parameter bogus"):
        run.execute(src, {"profile": "smoke", "bogus": 1}, out_dir=out_dir)


def test_artifact_made_in_the_kernel_is_keyed_by_the_notebooks_code(tiny):
    """The runner tells the kernel where the notebook is (REPRO_NOTEBOOKS), so the artifact's key
    mixes in the notebook's code; editing the code makes a new artifact."""
    from helpers.core import codekey

    src, out_dir = tiny
    out, _ = run.execute(src, {"profile": "smoke", "n": 2}, out_dir=out_dir)
    first = Path(nbformat.read(out, as_version=4).metadata["repro"]["artifacts"][0])
    assert json.loads((first / "artifact.json").read_text())["code"] == codekey.notebook_code_key(src)
    nb = nbformat.read(src, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("str(n * 2)", "str(n * 3)")
    nbformat.write(nb, src)
    out, ran = run.execute(src, {"profile": "smoke", "n": 2}, out_dir=out_dir)
    second = Path(nbformat.read(out, as_version=4).metadata["repro"]["artifacts"][0])
    assert ran and second != first and "value 6" in _stdout(out)


@pytest.mark.parametrize(
    "value, message",
    [
        ("ten", "must be of type int like its default 1, not str 'ten'"),
        ("true", "must be of type int like its default 1, not bool True"),
        ("[1, 2]", "must be of type int like its default 1, not list"),
    ],
)
def test_parameter_of_the_wrong_type_is_refused(tiny, value, message):
    src, out_dir = tiny
    with pytest.raises(ReproError, match=message.replace("[", r"\[")):
        run.execute(src, {"profile": "smoke", **run.parse_overrides([["n", value]])}, out_dir=out_dir)
    assert not out_dir.exists() or not list(out_dir.glob("*.ipynb"))


def test_parameter_types_none_and_numbers():
    assert run._type_ok(None, 3) and run._type_ok("x", None)  # null is always allowed
    assert run._type_ok(3, 0.5) and not run._type_ok(0.5, 3)  # an int may stand for a float
    assert run._type_ok((1, 2), [0]) and not run._type_ok("ab", [0])
    assert not run._type_ok(1, True) and not run._type_ok(True, 1)


def test_every_profile_value_has_the_type_of_its_default():
    for nb in run.notebooks():
        for profile in ("smoke", "quick", "paper"):
            run.check_parameters(nb, run.profile_parameters(nb.stem, profile))


def test_wrong_type_from_the_command_line_is_one_clear_error(capsys):
    if not run.notebooks():
        pytest.skip("no notebooks yet")
    stem = run.notebooks()[0].stem
    assert cli.main([stem, "--profile", "smoke", "-p", "seed", "zero"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Parameter seed of notebook") and "Traceback" not in err


def test_cuda_without_a_gpu_is_refused_before_the_kernel_starts(tiny, monkeypatch):
    import torch

    src, out_dir = tiny
    nb = nbformat.read(src, as_version=4)
    nb.cells[1].source += '\ndevice = "auto"'
    nbformat.write(nb, src)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ReproError, match="device='cuda' was requested but no CUDA GPU is available"):
        run.execute(src, {"profile": "smoke", "device": "cuda"}, out_dir=out_dir)
    assert not out_dir.exists() or not list(out_dir.rglob("*.ipynb"))


def test_recording_a_run_reexecutes_only_the_notebooks_that_show_it(tmp_path, monkeypatch):
    from helpers.core import recorded

    monkeypatch.setattr(recorded, "RESULTS_DIR", tmp_path)
    nb = {stem: run.select([stem])[0] for stem in ("03", "04", "07")}
    before = {stem: run.recorded_fingerprint(path) for stem, path in nb.items()}
    assert before["03"] is None and before["04"] is not None and before["07"] is not None
    (tmp_path / "full.json").write_text('{"profile": "full"}')
    after = {stem: run.recorded_fingerprint(path) for stem, path in nb.items()}
    assert after["03"] is None and after["04"] != before["04"] and after["07"] != before["07"]
