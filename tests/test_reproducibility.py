"""Reproducibility: the same inputs give byte-identical tables, and summary.json records
what is needed to reproduce a run (version, instance hash, scenario, solver and options)."""

from __future__ import annotations

import json

import circopt
from circopt.cli import main

TABLES = ("flows.csv", "stocks.csv", "losses.csv", "decisions.csv", "audit.csv", "iamc.csv", "duals.csv")


def test_optimise_outputs_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert main(["optimise", "instances/toy", "--objective", "losses", "--out", str(out)]) == 0
    for name in TABLES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_summary_records_provenance(tmp_path):
    out = tmp_path / "o"
    assert main(["optimise", "instances/toy", "--scenario", "more_reuse", "--objective", "losses",
                 "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["circopt_version"] == circopt.__version__
    assert s["scenario"] == "more_reuse"
    assert s["instance_hash"] == circopt.load("instances/toy", "more_reuse").content_hash
    assert s["solver"]["name"] == "highs" and s["solver"]["version"].startswith("1.")
    assert s["solver"]["options"]["primal_feasibility_tolerance"] == 1e-9
    assert s["status"] == "optimal" and s["max_relative_imbalance"] <= 1e-9
    assert {"objective", "solve_seconds"} <= set(s)


def test_instance_hash_changes_with_any_input_file(toy_copy):
    h0 = circopt.load(toy_copy).content_hash
    p = toy_copy / "data" / "production.csv"
    p.write_text(p.read_text().replace("2024,100,kt", "2024,101,kt"))
    assert circopt.load(toy_copy).content_hash != h0


def test_sweep_records_its_seed(tmp_path):
    import yaml

    from .netgen import write_sources
    from .test_studies import DOC

    folder = write_sources(tmp_path / "inst")
    (folder / "instance.yaml").write_text(yaml.safe_dump(DOC))
    out = tmp_path / "sw"
    assert main(["sweep", str(folder), "--samples", "3", "--seed", "11", "--executor", "inprocess",
                 "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["seed"] == 11 and s["samples"] == 3 and s["executor"] == "inprocess"
