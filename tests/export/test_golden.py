"""Golden tests: every Markdown file of an export against the literal examples of export.md §7.

The inputs are a trained pipeline built to reproduce the published `ec2-0.7.11` examples (six node
types, the node type 0 error-report rows); the expected texts are in tests/export/golden/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from steps.common.domain import TRAINER_NAMES
from steps.export import markdown

from .builder import Model, PipelineSpec, build_pipeline, index_entry, pipeline_metadata
from .conftest import WINDOW, run_export

GOLDEN = Path(__file__).parent / "golden"
EC2 = "ec2-0.7.11"


def ec2_index():
    return {
        "0": index_entry("intel_xeon_platinum_8259cl", 96, 2, 377, 3500, ["m5.metal-ami-0e4d0bb9670ea8db0"]),
        "1": index_entry("intel_xeon_e5_2686v4", 72, 2, 503, 3000, ["i3.metal-ami-0e4d0bb9670ea8db0"]),
        "2": index_entry("intel_xeon_platinum_8275cl", 96, 2, 188, 3900, ["c5.metal"]),
        "3": index_entry("intel_xeon_platinum_8259cl", 96, 2, 755, 3500, ["r5.metal"]),
        "4": index_entry("intel_xeon_platinum_8252c", 48, 2, 188, 4500, ["m5zn.metal"]),
        "5": index_entry("intel_xeon_platinum_8488c", 96, 1, 377, 3800, ["m7i.metal-24xl"]),
    }


def ec2_models():
    rows = [
        Model("rapl-sysfs", "AbsPower", "BPFIRQ", "SGDRegressorTrainer", 0, 71.18, 15.6),
        Model("rapl-sysfs", "AbsPower", "BPFOnly", "LogarithmicRegressionTrainer", 0, 42.54, 18.0),
        Model("rapl-sysfs", "AbsPower", "BPFOnly", "XgboostFitTrainer", 0, 5.0, 30.0),  # sidecar best only
        Model("rapl-sysfs", "AbsPower", "Basic", "SGDRegressorTrainer", 0, 17.27, 3.6),
        Model("rapl-sysfs", "AbsPower", "CounterIRQCombined", "SGDRegressorTrainer", 0, 14.23, 4.2),
        Model("rapl-sysfs", "AbsPower", "CounterOnly", "SGDRegressorTrainer", 0, 13.10, 5.0),
        Model("rapl-sysfs", "DynPower", "Basic", "PolynomialRegressionTrainer", 0, 12.0, 25.0),  # not exported
    ]
    for n in range(1, 6):
        rows.append(Model("rapl-sysfs", "AbsPower", "BPFOnly", "SGDRegressorTrainer", n, 3.0, 5.0))
        rows.append(Model("rapl-sysfs", "DynPower", "BPFOnly", "SGDRegressorTrainer", n, 2.0, 4.0))
    return rows


@pytest.fixture
def ec2(workspace):
    build_pipeline(workspace["models"], PipelineSpec(EC2, ec2_index(), ec2_models(), pipeline_metadata(EC2)))
    return workspace


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export of the ec2 pipeline with `--input stressng_kepler_query`, shared by the read-only tests."""
    root = tmp_path_factory.mktemp("ec2")
    ws = {"data": root / "data", "models": root / "models", "db": root / "db" / "models", "root": root}
    ws["data"].mkdir()
    (ws["data"] / "stressng.json").write_text(WINDOW)
    build_pipeline(ws["models"], PipelineSpec(EC2, ec2_index(), ec2_models(), pipeline_metadata(EC2)))
    result = export_ec2(ws, "--input", "stressng_kepler_query")
    assert result.code == 0, result
    return ws


def export_ec2(ws, *extra):
    """Selected by the split errors: the published ec2-0.7.11 (kepler-model-server) had no others."""
    argv = ["-p", EC2, "-o", str(ws["db"]), "--publisher", "sunya-ch", "--benchmark", "stressng"]
    return run_export(ws, *argv, "--select-by", "split", *extra, defaults=False)


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def test_pipeline_readme_matches_the_spec_example(exported):
    assert (exported["db"] / "v0.7" / EC2 / "README.md").read_text() == golden("ec2-0.7.11_README.md")


def test_error_report_matches_the_spec_example(exported):
    reports = exported["db"] / "v0.7" / EC2 / "error_report"
    assert (reports / "node_type_0.md").read_text() == golden("ec2-0.7.11_node_type_0.md")
    assert sorted(p.name for p in reports.iterdir()) == [f"node_type_{n}.md" for n in range(6)]


def test_pipeline_page_matches_the_spec_template(exported):
    assert (exported["db"] / "v0.7" / ".doc" / f"{EC2}.md").read_text() == golden("ec2-0.7.11_page.md")


def test_pipeline_page_is_never_overwritten(ec2):
    page = ec2["db"] / "v0.7" / ".doc" / f"{EC2}.md"
    page.parent.mkdir(parents=True)
    page.write_text("# hand-written description\n")
    assert export_ec2(ec2, "--input", "stressng_kepler_query").code == 0
    assert page.read_text() == "# hand-written description\n"


def test_new_version_readme_has_header_and_row(exported):
    assert (exported["db"] / "v0.7" / "README.md").read_text() == golden("version_README_new.md")


def test_version_row_appended_after_last_row_once(ec2):
    readme = ec2["db"] / "v0.7" / "README.md"
    readme.parent.mkdir(parents=True)
    shutil.copy(GOLDEN / "version_README_before.md", readme)
    assert export_ec2(ec2).code == 0
    assert readme.read_text() == golden("version_README_after.md")
    assert export_ec2(ec2).code == 0
    assert readme.read_text() == golden("version_README_after.md")


def test_version_row_replaced_in_place_with_new_values():
    before = golden("version_README_after.md")
    row = markdown.version_row(EC2, "March 2025", "2025-03-01 00:00:00", "other-publisher")
    after = markdown.upsert_version_row(before, "v0.7", EC2, row)
    old_lines, new_lines = before.splitlines(), after.splitlines()
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b]
    assert len(old_lines) == len(new_lines) and changed == [6]
    assert new_lines[6] == row


def test_version_row_text_is_the_spec_example():
    assert markdown.version_row(EC2, "2024-07-25 21:05:43", "2024-08-14 07:12:37", "sunya-ch") == (
        "[ec2-0.7.11](./.doc/ec2-0.7.11.md)|2024-07-25 21:05:43|2024-08-14 07:12:37|"
        "[sunya-ch](https://github.com/sunya-ch)|[link](./ec2-0.7.11)"
    )


def test_version_table_added_to_a_file_without_one():
    row = markdown.version_row("p", "t", "u", "me")
    text = markdown.upsert_version_row("# Notes\nfree text", "v0.7", "p", row)
    assert text == (
        "# Notes\nfree text\n\npipeline|collect time|last update time|publisher|models\n"
        "---|---|---|---|---|\n" + row + "\n"
    )


def test_version_row_appended_when_table_ends_the_file_without_newline():
    text = "# v0.7 Build\n\npipeline|collect time|last update time|publisher|models\n---|---|---|---|---|\n[a](x)|1"
    row = markdown.version_row("p", "t", "u", "me")
    assert markdown.upsert_version_row(text, "v0.7", "p", row) == text + "\n" + row + "\n"


def test_pipeline_page_variants():
    page = markdown.pipeline_page("p", "smooth", "profile", ["SGDRegressorTrainer"], [], [("idle", None)])
    assert "- **AbsPower Trainers:**\n\n  - SGDRegressorTrainer\n\n- **DynPower Trainers:**\n\n  (none)\n" in page
    assert page.endswith("## Workload information\n\n### idle\n\n<-- put workload description here -->\n")
    page = markdown.pipeline_page("p", "default", "min", list(TRAINER_NAMES[:2]), list(TRAINER_NAMES[1:3]), [])
    assert "  - GradientBoostingRegressorTrainer\n  - KNeighborsRegressorTrainer\n" in page
    assert page.endswith("## Workload information\n")


@pytest.mark.parametrize(
    "item,name",
    [
        ("stressng_kepler_query", "stressng"),
        ("stressng.json", "stressng"),
        ("idle", "idle"),
        ("sample_kepler_query.json", "sample"),
    ],
)
def test_workload_name(item, name):
    assert markdown.workload_name(item) == name


@pytest.mark.parametrize("value,text", [(10, "10"), (7.5, "7.5"), (100.0, "100"), (0.25, "0.25")])
def test_thresholds_print_in_shortest_form(value, text):
    assert markdown.shortest(value) == text


def test_unknown_attributes_print_empty_and_numbers_as_stored():
    assert [markdown.cell(v) for v in ("", 0, None, 377, 377.5, "x")] == ["", "", "", "377", "377.5", "x"]


def test_every_readme_link_points_to_an_existing_file(exported):
    import re

    ec2 = exported
    version_dir = ec2["db"] / "v0.7"
    pipeline_dir = version_dir / EC2
    documents = [
        version_dir / "README.md",
        pipeline_dir / "README.md",
        *sorted((pipeline_dir / "error_report").iterdir()),
    ]
    base = "https://raw.githubusercontent.com/sustainable-computing-io/kepler-model-db/main/models/"
    checked = 0
    for document in documents:
        for target in re.findall(r"\]\(([^)]+)\)", document.read_text()):
            if target.startswith("#"):
                continue
            if target.startswith("https://github.com/"):
                continue
            path = (document.parent / target).resolve()
            assert path.exists(), f"{document.name} links to missing {target}"
            checked += 1
        for url in re.findall(r"https://raw\.githubusercontent\.com/\S+", document.read_text()):
            assert url.startswith(base)
            assert (ec2["db"] / url[len(base) :]).is_file(), url
            checked += 1
    assert checked > 20
