"""The documentation site and the code it shows.

* ``mkdocs build --strict`` passes (broken links and anchors, pages missing from the nav or
  nav entries without a page are errors) and the site loads nothing from the network;
* the Python blocks of docs/quickstart.md run as written;
* in every page, each call of a leakstats function, class or method that can be resolved
  statically binds to its real signature (no invented option), and every ``leakstats ...``
  command line parses with the real command-line parser.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import re
import shlex
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def _blocks(path: Path, *languages: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [m.group(2) for m in FENCE.finditer(text) if m.group(1) in languages]


# --------------------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs build needs mkdocs (the [dev] extra)")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, (
        f"mkdocs build --strict failed (exit {proc.returncode}):\n{proc.stderr}\n{proc.stdout}"
    )
    return out


def test_mkdocs_build_strict(site: Path):
    for page in PAGES:
        name = "index.html" if page.stem == "index" else f"{page.stem}.html"
        assert (site / name).is_file(), f"{page.name} was not rendered to {name}"


def test_site_loads_nothing_from_the_network(site: Path):
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//[^\"]*", re.I)
    offenders = [f"{p.relative_to(site)}: {m.group(0)}" for p in site.rglob("*.html")
                 for m in remote.finditer(p.read_text(encoding="utf-8"))]
    assert not offenders, "pages load remote assets (a CDN?):\n" + "\n".join(offenders[:10])


def test_remote_asset_check_catches_a_cdn(tmp_path: Path):
    (tmp_path / "page.html").write_text(
        '<link rel="stylesheet" href="https://cdn.example.org/x.css">', encoding="utf-8")
    with pytest.raises(AssertionError, match="cdn.example.org"):
        test_site_loads_nothing_from_the_network(tmp_path)


# --------------------------------------------------------------------------- the API reference


def test_api_page_is_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "api_reference"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_api_reference_lists_every_public_name_with_its_signature(site: Path):
    import html

    import leakstats

    text = html.unescape(re.sub(r"<[^>]+>", "", (site / "api.html").read_text("utf-8")))
    missing, unsigned = [], []
    for name in leakstats.__all__:
        if name not in text:
            missing.append(name)
            continue
        value = getattr(leakstats, name)
        if inspect.isfunction(value):
            first = next(iter(inspect.signature(value).parameters), None)
            if not re.search(rf"\b{name}\(\s*{first or ''}", text):
                unsigned.append(name)
    assert not missing, f"public names missing from the API reference: {missing}"
    assert not unsigned, f"functions shown without their signature: {unsigned}"


# --------------------------------------------------------------------------- the quick start


def test_quickstart_runs(tmp_path: Path, monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    blocks = _blocks(DOCS / "quickstart.md", "python")
    assert len(blocks) >= 4, "docs/quickstart.md lost its Python blocks"
    monkeypatch.chdir(tmp_path)  # the quick start writes leak_curve.png into the current folder
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for index, block in enumerate(blocks):
            try:
                exec(compile(block, f"docs/quickstart.md, python block {index}", "exec"),
                     namespace)
            except Exception as exc:  # pragma: no cover - the message is the point
                pytest.fail(f"docs/quickstart.md, python block {index} failed: {exc!r}\n{block}")
    plt.close("all")
    assert (tmp_path / "leak_curve.png").is_file()
    assert set(namespace["cert"].to_frame()["method"]) == {"grad_ascent", "grad_diff", "npo",
                                                           "retrain"}


# --------------------------------------------------------------------------- API and CLI in pages


def _bind_imports(tree: ast.AST, names: dict[str, object]) -> None:
    """Bind the names a block imports from leakstats (``import leakstats``, ``from leakstats.x
    import y``); other imports are not followed (their calls are not checked)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "leakstats":
                    with contextlib.suppress(ImportError):
                        module = importlib.import_module(alias.name)
                        names[alias.asname or "leakstats"] = (
                            module if alias.asname else importlib.import_module("leakstats"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "leakstats":
            try:
                module = importlib.import_module(node.module)
            except ImportError:  # an optional dependency (torch ...) is missing here
                continue
            for alias in node.names:
                value = getattr(module, alias.name, None)
                if value is None:
                    with contextlib.suppress(ImportError):
                        value = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = (
                    value if value is not None else _Missing(f"{node.module}.{alias.name}"))


class _Missing:
    """A name the page uses that leakstats does not have."""

    def __init__(self, name: str) -> None:
        self.name = name


class _Instance:
    """A value of a leakstats class (the result of a call whose return type is known)."""

    def __init__(self, cls: type) -> None:
        self.cls = cls


def _is_leakstats(obj) -> bool:
    name = getattr(obj, "__module__", None) or getattr(obj, "__name__", "") or ""
    return isinstance(name, str) and name.split(".")[0] == "leakstats"


def _returns(target) -> _Instance | None:
    """What calling ``target`` gives, when it is a leakstats class (from the annotations)."""
    if inspect.isclass(target):
        return _Instance(target) if _is_leakstats(target) else None
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:  # unresolvable forward references: unknown
        return None
    return _Instance(hint) if inspect.isclass(hint) and _is_leakstats(hint) else None


def _resolve(node: ast.expr, names: dict[str, object]):
    """What a call target or value names: a leakstats object, an ``_Instance``, a
    ``_Missing``, or None when unknown (not leakstats, or not statically known)."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call):
        target = _resolve(node.func, names)
        return None if target is None or isinstance(target, _Missing) else _returns(
            target.method if isinstance(target, _Method) else target)
    if not isinstance(node, ast.Attribute):
        return None
    base = _resolve(node.value, names)
    if isinstance(base, _Instance):
        static = inspect.getattr_static(base.cls, node.attr, None)
        if static is None:
            return _Missing(f"{base.cls.__name__}.{node.attr}")
        if isinstance(static, property) or not callable(getattr(base.cls, node.attr)):
            return None
        method = getattr(base.cls, node.attr)
        bound = isinstance(static, (staticmethod, classmethod))
        return method if bound else _Method(method)
    if base is None or isinstance(base, _Missing) or not _is_leakstats(base):
        return base if isinstance(base, _Missing) else None
    try:
        return getattr(base, node.attr)
    except AttributeError:
        return _Missing(f"{getattr(base, '__name__', base)}.{node.attr}")
    except ImportError:  # lazily loaded, optional dependency missing here
        return None


class _Method:
    """A plain method reached through an instance: its signature starts with ``self``."""

    def __init__(self, method) -> None:
        self.method = method


def _check_call(node: ast.Call, names: dict[str, object], where: str) -> list[str]:
    target = _resolve(node.func, names)
    call = ast.unparse(node.func)
    if isinstance(target, _Missing):
        return [f"{where}: {call}: {target.name} does not exist"]
    self_arg = isinstance(target, _Method)
    function = target.method if self_arg else target
    if function is None or isinstance(function, _Instance) or not callable(function) or (
            inspect.ismodule(function)):
        return []
    if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords):
        return []  # *args / **kwargs: cannot be checked statically
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    try:
        signature.bind(*([None] * (len(node.args) + self_arg)),
                       **{k.arg: None for k in node.keywords})
    except TypeError as exc:
        return [f"{where}: {call}(...): {exc}"]
    return []


def _signature_problems(source: str, where: str, names: dict[str, object] | None = None
                        ) -> list[str]:
    """Check one block; ``names`` carries the page's bindings from block to block (a page
    reads as one session) and starts with ``leakstats`` imported."""
    names = {"leakstats": importlib.import_module("leakstats")} if names is None else names
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"{where}: not valid Python ({exc.msg}, line {exc.lineno})"]
    problems = []
    for statement in tree.body:
        _bind_imports(statement, names)
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                problems += _check_call(node, names, where)
        if isinstance(statement, ast.Assign):
            value = _resolve(statement.value, names) if isinstance(
                statement.value, ast.Call) else None
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    if isinstance(value, _Instance):
                        names[target.id] = value
                    else:
                        names.pop(target.id, None)
    return problems


def _command_lines(source: str) -> list[list[str]]:
    """``leakstats ...`` commands of a shell block, continuation lines joined."""
    commands = []
    for line in source.replace("\\\n", " ").splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words[0]):
            words = words[1:]  # VAR=value prefixes
        if words and words[-1] == "&":
            words = words[:-1]
        if words and words[0] == "leakstats":
            commands.append(words[1:])
    return commands


def _cli_problems(argv: list[str], where: str) -> list[str]:
    from leakstats.cli import build_parser

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            if exc.code not in (0, None):
                return [f"{where}: `leakstats {shlex.join(argv)}`: {err.getvalue().strip()}"]
    return []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_in_docs_matches_the_api(page: Path):
    problems = []
    names = {"leakstats": importlib.import_module("leakstats")}
    for index, block in enumerate(_blocks(page, "python")):
        problems += _signature_problems(block, f"{page.name}, python block {index}", names)
    for index, block in enumerate(_blocks(page, "bash", "sh", "console", "shell")):
        for argv in _command_lines(block):
            problems += _cli_problems(argv, f"{page.name}, shell block {index}")
    assert not problems, "\n".join(problems)


def test_api_check_catches_invented_options():
    source = (
        "import leakstats\n"
        "from leakstats.generate.vllm import ray_rows\n"
        "leakstats.leak_at_k(records, k=[1], confidence=0.9)\n"
        "leakstats.fit_bayes(records, draws=10)\n"
        "ray_rows(jobs, n=3)\n"
        "leakstats.no_such_function(1)\n"
    )
    problems = _signature_problems(source, "page")
    assert len(problems) == 3, problems
    assert "confidence" in problems[0] and "'n'" in problems[1]
    assert "no_such_function does not exist" in problems[2]
    assert _signature_problems("x = (", "page") == ["page: not valid Python ('(' was never "
                                                    "closed, line 1)"]


def test_cli_check_catches_invented_options():
    block = ("leakstats estimate r.parquet --k 1,8 \\\n    --by method\n"
             "CUDA_VISIBLE_DEVICES=0 leakstats generate --prompts p --out o --beams 4 &\n"
             "echo leakstats\n")
    commands = _command_lines(block)
    assert commands == [["estimate", "r.parquet", "--k", "1,8", "--by", "method"],
                        ["generate", "--prompts", "p", "--out", "o", "--beams", "4"]]
    assert _cli_problems(commands[0], "page") == []
    (problem,) = _cli_problems(commands[1], "page")
    assert "unrecognized arguments: --beams 4" in problem
