"""The GitHub workflow builds, tests and deploys the book as the README and .ci/run say
(issue 25, item 3): it runs the same make targets, in the same order, with the Kaggle secrets
the README documents, and deploys _build/html with GitHub's Pages actions."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&"}


def make_targets(text: str) -> list[str]:
    """The make targets a shell script or a README code block runs, in order (``make`` as a
    command, not inside a quoted string or a comment; options and VAR=value skipped)."""
    found = []
    for line in text.splitlines():
        tokens = list(shlex.shlex(line, posix=True, punctuation_chars=True))
        for i, tok in enumerate(tokens):
            if tok == "make" and (i == 0 or tokens[i - 1] in SEPARATORS):
                rest = [t for t in tokens[i + 1:] if not t.startswith("-") and "=" not in t]
                if rest and rest[0] not in SEPARATORS:
                    found.append(rest[0])
    return found


def load() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def readme_commands() -> list[str]:
    """The targets of the README's "Two commands" block."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Two commands", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return make_targets(block)


def test_the_workflow_runs_the_readmes_two_commands_like_ci():
    build = load()["jobs"]["build"]
    ran = make_targets("\n".join(s.get("run", "") for s in steps(build)))
    assert readme_commands() == ["book", "test"]
    assert ran == readme_commands(), "the workflow runs exactly the README's commands"
    ci = make_targets((ROOT / ".ci" / "run").read_text())
    assert ci and [t for t in ran if t in ci] == ci, ".ci/run's targets, in the same order"
    makefile = (ROOT / "Makefile").read_text()
    for target in ran:
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"no make target {target}"


def test_the_workflow_gets_the_data_from_the_documented_secrets():
    build = load()["jobs"]["build"]
    env = build["env"]
    readme = (ROOT / "README.md").read_text()
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        assert env[name] == f"${{{{ secrets.{name} }}}}"
        assert name in readme and name in WORKFLOW.read_text().split("name: book")[0], \
            f"{name} is documented in the README and the workflow's header"


def test_the_workflow_deploys_the_built_pages_with_the_pages_actions():
    wf = load()
    on = wf.get("on", wf.get(True))                     # YAML 1.1 reads the key `on` as True
    assert on["push"]["branches"] == ["main"]
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    uses = [s.get("uses", "").split("@")[0] for s in steps(build)]
    assert uses[-2:] == ["actions/configure-pages", "actions/upload-pages-artifact"]
    upload = steps(build)[-1]
    assert upload["with"]["path"] == "_build/html"
    last_make = max(i for i, s in enumerate(steps(build)) if "make " in s.get("run", ""))
    assert last_make < len(steps(build)) - 2, "pages are uploaded only after make test passed"
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert [s.get("uses", "").split("@")[0] for s in steps(deploy)] == ["actions/deploy-pages"]
    assert wf["permissions"] == {"contents": "read"}, "only the deploy job may write"


def test_make_targets_parser():
    assert make_targets("make book   # creates .venv\nmake test\n") == ["book", "test"]
    assert make_targets("cd x && make test\n# make pdf\necho make-believe") == ["test"]
    assert make_targets('echo "ci: make test took 3 s"\nmake -j2 DATA_DIR=d pdf') == ["pdf"]
