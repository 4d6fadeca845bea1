"""Every user mistake in a task is a one-line UserError naming the file and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tasks.task_helpers import WriteTask, jsonl

from apeopt.errors import UserError
from apeopt.tasks import load_task

GOOD_DATA = jsonl([{"input": f"x{i}", "target": f"y{i}"} for i in range(30)])
GOOD = """\
instruction: Do it.
source: {type: jsonl, path: d.jsonl}
splits: {train: 10, dev: 10, test: 10}
"""


def fails(path: Path, pattern: str) -> str:
    with pytest.raises(UserError, match=pattern) as info:
        load_task(str(path))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_good_task_loads(write_task: WriteTask) -> None:
    assert load_task(str(write_task(GOOD, {"d.jsonl": GOOD_DATA}))).sizes()["train"] == 10


def test_missing_task_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"task file not found: .*nope\.yaml"):
        load_task(str(tmp_path / "nope.yaml"))


def test_unknown_builtin_suggests_a_name() -> None:
    with pytest.raises(UserError, match=r"unknown task 'plurall'; did you mean 'plural'\?.*number_to_words"):
        load_task("plurall")


def test_malformed_yaml_names_the_line(write_task: WriteTask) -> None:
    path = write_task("instruction: Do it.\nsource: {type: jsonl\nsplits: [1, 2\n")
    message = fails(path, r"task\.yaml:\d+: invalid YAML")
    assert re.search(r":[23]: invalid YAML", message)
    bad_indent = write_task("instruction: Do it.\nsource:\n  type: jsonl\n path: x\n", name="b.yaml")
    fails(bad_indent, r"b\.yaml:4: invalid YAML")


def test_not_a_mapping_and_empty_file(write_task: WriteTask) -> None:
    fails(write_task("- a\n- b\n"), r"task\.yaml: expected a mapping of task fields, got list")
    fails(write_task("", name="e.yaml"), r"e\.yaml: empty task file")


def test_missing_required_field(write_task: WriteTask) -> None:
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith("source")) + "\n"
    fails(write_task(text, {"d.jsonl": GOOD_DATA}), r"task\.yaml: source: missing required field")


def test_blank_instruction_is_an_error(write_task: WriteTask) -> None:
    fails(write_task(GOOD.replace("instruction: Do it.", "instruction: '  '"), {"d.jsonl": GOOD_DATA}),
          r"task\.yaml: instruction: expected a non-empty string or no field at all")


def test_missing_source_keys(write_task: WriteTask) -> None:
    fails(write_task(GOOD.replace(", path: d.jsonl", "")), r"task\.yaml: source\.path: missing required field")
    fails(write_task(GOOD.replace("type: jsonl, ", "")), r"task\.yaml: source\.type: missing required field")


def test_unknown_fields(write_task: WriteTask) -> None:
    fails(write_task(GOOD + "input_feild: q\n", {"d.jsonl": GOOD_DATA}),
          r"task\.yaml: input_feild: unknown field; did you mean 'input_field'\?")
    fails(write_task(GOOD.replace("path: d.jsonl", "path: d.jsonl, nn: 3")), r"source\.nn: unknown field for a jsonl source")


def test_unknown_source_type(write_task: WriteTask) -> None:
    fails(write_task(GOOD.replace("jsonl,", "jsnol,")),
          r"task\.yaml: source\.type: unknown source type 'jsnol'; did you mean 'jsonl'\?")


def test_unknown_generator(write_task: WriteTask) -> None:
    path = write_task("instruction: Do.\nsource: {type: generator, name: plurl}\n")
    fails(path, r"task\.yaml: source\.name: unknown task generator 'plurl'; did you mean 'plural'\?")


def test_generator_too_small_for_n(write_task: WriteTask) -> None:
    path = write_task("instruction: Do.\nsource: {type: generator, name: plural, n: 100000}\n")
    fails(path, r"task\.yaml: source\.n: generator 'plural': only \d+ distinct examples")


def test_data_file_missing(write_task: WriteTask) -> None:
    fails(write_task(GOOD), r"task\.yaml: source\.path: data file not found: .*d\.jsonl")


def test_record_missing_input_field(write_task: WriteTask) -> None:
    recs = [{"input": f"x{i}", "target": "y"} for i in range(30)]
    del recs[4]["input"]
    fails(write_task(GOOD, {"d.jsonl": jsonl(recs)}), r"d\.jsonl: line 5: missing field 'input' \(input_field\)")


def test_record_missing_target_field_csv(write_task: WriteTask) -> None:
    rows = "question,answer\n" + "".join(f"q{i},a{i}\n" for i in range(5)) + "q5\n"
    text = GOOD.replace("jsonl, path: d.jsonl", "csv, path: d.csv") + "input_field: question\ntarget_field: answer\n"
    fails(write_task(text, {"d.csv": rows}), r"d\.csv: line 7: missing field 'answer' \(target_field\)")


def test_record_missing_template_field(write_task: WriteTask) -> None:
    text = GOOD + "input_template: '{input} / {context}'\n"
    fails(write_task(text, {"d.jsonl": GOOD_DATA}), r"d\.jsonl: line 1: missing field 'context' \(used by input_template\)")


def test_bad_template(write_task: WriteTask) -> None:
    fails(write_task(GOOD + "input_template: 'x {} y'\n"), r"task\.yaml: input_template: bad template")


def test_bigbench_example_without_target(write_task: WriteTask) -> None:
    doc = {"examples": [{"input": "a", "target": "b"}, {"input": "c"}]}
    path = write_task("instruction: Do.\nsource: {type: bigbench, path: t.json}\n", {"t.json": json.dumps(doc)})
    fails(path, r"t\.json: examples\[1\]: missing field 'target' \(or 'target_scores'\)")
    no_examples = write_task("instruction: Do.\nsource: {type: bigbench, path: u.json}\n", {"u.json": "{}"}, name="u.yaml")
    fails(no_examples, r"u\.json: examples: missing or not a list")


def test_invalid_json_line(write_task: WriteTask) -> None:
    fails(write_task(GOOD, {"d.jsonl": GOOD_DATA + "{oops\n"}), r"d\.jsonl: line 31: invalid JSON")


def test_empty_data_file(write_task: WriteTask) -> None:
    fails(write_task(GOOD, {"d.jsonl": "\n"}), r"d\.jsonl: no records")


def test_empty_split_from_fraction(write_task: WriteTask) -> None:
    text = GOOD.replace("{train: 10, dev: 10, test: 10}", "{train: 0.9, dev: 0.08, test: 0.02}")
    fails(write_task(text, {"d.jsonl": GOOD_DATA}), r"task\.yaml: splits\.test: empty split \(0\.02 of 30 examples")


@pytest.mark.parametrize("splits,pattern", [
    ("{train: -1, dev: 10, test: 10}", r"splits\.train: bad split size -1"),
    ("{train: 0, dev: 10, test: 10}", r"splits\.train: bad split size 0"),
    ("{train: ten, dev: 10, test: 10}", r"splits\.train: bad split size 'ten'"),
    ("{train: 0.5, dev: 10, test: 10}", r"splits: bad split sizes .*all counts or all fractions"),
    ("{train: 0.6, dev: 0.3, test: 0.3}", r"splits: bad split sizes: fractions .* sum to more than 1"),
    ("{train: 10, dev: 10}", r"splits\.test: missing"),
    ("{train: 10, dev: 10, test: 10, valid: 3}", r"splits\.valid: unknown split"),
    ("{train: 20, dev: 10, test: 10}", r"splits: too few examples: need 40 .* has only 30 unique inputs"),
])
def test_bad_split_sizes(write_task: WriteTask, splits: str, pattern: str) -> None:
    text = GOOD.replace("{train: 10, dev: 10, test: 10}", splits)
    fails(write_task(text, {"d.jsonl": GOOD_DATA}), r"task\.yaml: " + pattern)


def test_test_shift_errors(write_task: WriteTask) -> None:
    same = GOOD + "test_shift:\n  source: {type: jsonl, path: d.jsonl}\n"
    fails(write_task(same, {"d.jsonl": GOOD_DATA}),
          r"task\.yaml: test_shift: empty split \(all 30 inputs .* also occur in the in-distribution data\)")
    bigger = GOOD + "test_shift:\n  source: {type: jsonl, path: s.jsonl}\n  size: 50\n"
    shift_data = jsonl([{"input": f"s{i}", "target": "t"} for i in range(20)])
    fails(write_task(bigger, {"d.jsonl": GOOD_DATA, "s.jsonl": shift_data}, name="b.yaml"),
          r"b\.yaml: test_shift\.size: too few examples: need 50")
    no_source = GOOD + "test_shift: {size: 3}\n"
    fails(write_task(no_source, {"d.jsonl": GOOD_DATA}, name="c.yaml"), r"c\.yaml: test_shift\.source: missing required field")


def test_target_outside_labels(write_task: WriteTask) -> None:
    fails(write_task(GOOD + "labels: ['yes', 'no']\n", {"d.jsonl": GOOD_DATA}),
          r"d\.jsonl: line 1: target 'y0' is not one of labels: yes, no")
    fails(write_task(GOOD + "labels: [yes, no]\n", name="b.yaml"),
          r"b\.yaml: labels: got \[True, False\]; quote labels like 'yes'/'no'")


def test_bad_field_types(write_task: WriteTask) -> None:
    fails(write_task(GOOD + "max_tokens: 0\n"), r"task\.yaml: max_tokens: expected an integer")
    fails(write_task(GOOD + "labels: positive\n", name="l.yaml"), r"l\.yaml: labels: expected a non-empty list")
    fails(write_task(GOOD.replace("Do it.", "''"), name="i.yaml"), r"i\.yaml: instruction: expected a non-empty string")
