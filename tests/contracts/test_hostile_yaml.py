"""Hostile contract YAML (issue 16, item 13): alias bombs, deep nesting, huge documents, duplicate
keys and non-plain tags are refused before they can cost memory or time, each with the file and line;
well-formed YAML (anchors and merge keys included) still reads as before."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from datahub.api import create_app
from datahub.cli import app
from datahub.contracts.lint import lint_file
from datahub.contracts.yaml_io import MAX_DEPTH, MAX_VALUES, MAX_YAML_BYTES, load_yaml, load_yaml_text
from datahub.dictionary import Dictionary, check_dictionary
from datahub.errors import ContractError
from datahub.settings import Settings
from tests.api.conftest import serve
from tests.conftest import ROOT

HEAD = "apiVersion: v3.1.0\nkind: DataContract\nid: lol\nversion: 1.0.0\nstatus: active\n"


def billion_laughs(levels: int = 9) -> str:
    """The classic: nine levels of nine aliases each, 9**9 (387 million) strings once expanded."""
    lines = [HEAD.rstrip("\n"), 'x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]")
    lines.append(f"description: {{purpose: *x{levels}}}")
    return "\n".join(lines) + "\n"


def refusal(text: str) -> ContractError:
    with pytest.raises(ContractError) as caught:
        load_yaml_text(text, source="bomb.yaml")
    return caught.value


def test_billion_laughs_is_refused_before_it_expands() -> None:
    started = time.monotonic()
    error = refusal(billion_laughs())
    assert time.monotonic() - started < 2
    assert error.file == "bomb.yaml"
    assert error.path is not None and error.path.startswith("line ")
    assert "aliases" in error.message and f"{MAX_VALUES:,}" in error.message


def test_a_few_levels_of_aliases_are_refused_as_soon_as_they_pass_the_limit() -> None:
    # The fifth level (line 11) already stands for 597,871 values: refused there, its line named.
    assert refusal(billion_laughs(6)).path == "line 11"


def test_a_document_of_too_many_values_is_refused_where_it_passes_the_limit() -> None:
    # Each line one value: parsing stops at line 100,000 of 250,000 rather than reading them all.
    assert refusal("- a\n" * 250_000).path == f"line {MAX_VALUES}"


def test_recursive_alias_is_refused() -> None:
    error = refusal(HEAD + "tags: &loop [a, *loop]\n")
    assert error.path == "line 6" and "refers to itself" in error.message


@pytest.mark.parametrize(
    ("text", "opening"),
    [
        ("[" * 100_000, "["),
        ("a:\n" + "".join(f"{' ' * (i + 1)}b{i}:\n" for i in range(200)), "b"),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_without_a_recursion_error(text: str, opening: str) -> None:
    error = refusal(text)
    assert f"more than {MAX_DEPTH} levels" in error.message
    assert error.path is not None and error.path.startswith("line ")


def test_a_document_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.odcs.yaml"
    # Not even YAML: the size alone refuses it, so nothing of it is parsed.
    path.write_bytes(b"{" * (MAX_YAML_BYTES + 1))
    with pytest.raises(ContractError, match="larger than 1 MiB") as caught:
        load_yaml(path)
    assert caught.value.file == str(path)
    with pytest.raises(ContractError, match="larger than 1 MiB"):
        load_yaml_text("a" * (MAX_YAML_BYTES + 1))


def test_duplicate_keys_name_the_key_and_both_lines() -> None:
    error = refusal(HEAD + "name: first\ndescription: {purpose: x}\nname: second\n")
    assert error.path == "line 8"
    assert error.message == "duplicate key 'name' (first at line 6); a key may appear once in a mapping"


def test_duplicate_keys_inside_a_flow_mapping_are_refused() -> None:
    assert "duplicate key 'purpose'" in refusal(HEAD + "description: {purpose: a, purpose: b}\n").message


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['echo pwned']",
        "!!python/name:os.system",
        "!!binary aGVsbG8=",
        "!!set {a, b}",
        "!!timestamp 2024-01-01",
        "!custom value",
    ],
)
def test_non_plain_tags_are_refused(tagged: str) -> None:
    error = refusal(HEAD + f"name: {tagged}\n")
    assert error.path == "line 6"
    assert error.message.startswith("tag '") and "is not allowed" in error.message


def test_plain_yaml_still_reads_with_anchors_merge_keys_and_dates_as_strings() -> None:
    doc = load_yaml_text(
        HEAD
        + "contractCreatedTs: 2024-01-01\n"
        + "base: &base {a: 1, b: [x, y]}\n"
        + "copy: *base\n"
        + "merged: {<<: *base, b: override}\n"
        + "typed: !!str 42\n"
    )
    assert doc["contractCreatedTs"] == "2024-01-01"
    assert doc["copy"] == {"a": 1, "b": ["x", "y"]}
    assert doc["merged"] == {"a": 1, "b": "override"}
    assert doc["typed"] == "42"


def test_syntax_errors_name_the_file_and_line() -> None:
    error = refusal(HEAD + "name: [unclosed\n")
    assert error.file == "bomb.yaml" and error.path == "line 7"
    assert error.message.startswith("not valid YAML")


def test_project_contracts_and_dictionary_read_as_before(dictionary: Dictionary) -> None:
    for path in sorted((ROOT / "contracts").rglob("*.odcs.yaml")):
        assert isinstance(load_yaml(path), dict), path
    assert dictionary.elements


def test_lint_reports_the_bomb_as_a_problem_with_its_line(tmp_path: Path, dictionary: Dictionary) -> None:
    path = tmp_path / "bomb.odcs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    (problem,) = lint_file(path, dictionary)
    assert problem.file == str(path) and problem.entry.startswith("line ")
    assert "aliases" in problem.reason


def test_lint_of_the_bomb_stays_within_a_memory_limit(tmp_path: Path) -> None:
    """In a child process limited to 1.5 GiB of address space: before the fix this ended in a
    MemoryError (the CLI once grew to 9.3 GB)."""
    path = tmp_path / "bomb.odcs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    script = (
        "import resource, sys\n"
        "limit = 1536 * 2**20\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
        "from pathlib import Path\n"
        "from datahub.contracts.lint import lint_file\n"
        "from datahub.dictionary import load_dictionary\n"
        "problems = lint_file(Path(sys.argv[1]), load_dictionary(Path(sys.argv[2])))\n"
        "print(problems[0].reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path), str(ROOT / "dictionary")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        # Thread arenas would otherwise reserve address space the limit is not about.
        env={**os.environ, "MALLOC_ARENA_MAX": "2"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "aliases" in done.stdout


def test_cli_lint_names_the_line_of_a_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "dup.odcs.yaml"
    path.write_text(HEAD + "name: a\nname: b\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["contract", "lint", str(path)])
    assert result.exit_code == 1
    assert "line 7: duplicate key 'name' (first at line 6)" in result.output
    assert "Traceback" not in result.output


def test_dictionary_yaml_refuses_duplicate_keys(tmp_path: Path) -> None:
    root = tmp_path / "dictionary"
    root.mkdir()
    for name in ("elements.yaml", "code_tables.yaml", "crosswalks.yaml"):
        (root / name).write_text((ROOT / "dictionary" / name).read_text(encoding="utf-8"), encoding="utf-8")
    (root / "crosswalks.yaml").write_text("crosswalks: []\ncrosswalks: []\n", encoding="utf-8")
    _, problems = check_dictionary(root)
    assert any(
        p.file == "crosswalks.yaml" and p.entry == "line 2" and "duplicate key 'crosswalks'" in p.reason
        for p in problems
    ), problems


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with serve(create_app(Settings(home=tmp_path_factory.mktemp("api") / "var", demo_mode=True))) as live:
        department = live.app.state.clients.create("ops-centre-hostile", "department", "OC")
        with httpx.Client(base_url=live.url, timeout=30) as client:
            yield client, {"Authorization": f"Bearer {department.api_key}"}


def post(api: tuple[httpx.Client, dict[str, str]], text: str) -> httpx.Response:
    client, headers = api
    return client.post(
        "/api/v1/contracts", content=text.encode(), headers={**headers, "Content-Type": "application/yaml"}
    )


def test_api_refuses_the_bomb_with_422_and_stays_responsive(api: tuple[httpx.Client, dict[str, str]]) -> None:
    answers: dict[str, httpx.Response] = {}
    bomb = threading.Thread(target=lambda: answers.setdefault("bomb", post(api, billion_laughs())))
    started = time.monotonic()
    bomb.start()
    client, headers = api
    listed = client.get("/api/v1/contracts", headers=headers)
    bomb.join(timeout=30)
    assert time.monotonic() - started < 5
    assert listed.status_code == 200
    refused = answers["bomb"]
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "contract_invalid"
    assert error["file"] == "request body" and error["path"].startswith("line ")
    assert "aliases" in error["message"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (HEAD + "name: a\nname: b\n", "duplicate key 'name' (first at line 6)"),
        (HEAD + "name: !!python/object/apply:os.system ['echo pwned']\n", "is not allowed"),
        ("[" * 100_000, f"more than {MAX_DEPTH} levels"),
        (HEAD + "name: [unclosed\n", "not valid YAML"),
    ],
    ids=["duplicate_key", "python_tag", "deep", "syntax"],
)
def test_api_refuses_hostile_yaml_with_422(
    api: tuple[httpx.Client, dict[str, str]], text: str, reason: str
) -> None:
    refused = post(api, text)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "contract_invalid" and reason in error["message"]
    assert error["path"].startswith("line ")


def test_api_refuses_a_body_over_the_limit_with_413(api: tuple[httpx.Client, dict[str, str]]) -> None:
    refused = post(api, "#" * (MAX_YAML_BYTES + 1))
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"
