"""Publish the built book: push ``_build/html`` to the ``gh-pages`` branch of a git remote.

``make publish REMOTE=origin`` builds the book (``make book``), runs the static checks of the
built HTML, then runs this script, which

1. checks the tree it is about to publish: ``index.html`` and MathJax (served from the book,
   never a CDN) are there, and every relative link or source in every page (the tables' CSV
   files, images, scripts) names a file of the tree, so the pages work on a static host;
2. starts from the remote's ``gh-pages`` when it has one (so each publication is one commit on
   top of the last, pushed without force);
3. commits exactly the files of ``_build/html`` plus an empty ``.nojekyll`` (GitHub Pages would
   otherwise drop the ``_static``/``_images`` folders) with ``ghp-import``, nothing else of
   ``_build/``, and pushes the branch.

Usage: ``python tools/publish.py --remote REMOTE [--html _build/html] [--branch gh-pages]``;
REMOTE is a remote's name (``origin``) or a URL or path git can push to. Exit 2 with one line
when the tree is not fit to publish or the push fails.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
HTML = Path("_build") / "html"
BRANCH = "gh-pages"
#: mathjax_path in _config.yml, below _static/ (``make mathjax`` installs it)
MATHJAX = Path("_static") / "mathjax" / "tex-mml-chtml.js"


class PublishError(Exception):
    """The tree cannot be published (one line for the user)."""


class _Links(HTMLParser):
    """The ``href`` and ``src`` values of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


def local_target(page: Path, link: str) -> Path | None:
    """The file a relative link of ``page`` points to, or None for an external link, an
    anchor in the same page, or a ``data:``/``mailto:``/``javascript:`` link."""
    parts = urlsplit(link)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    if path.startswith("/"):
        return None                    # site-absolute: depends on where the book is served
    target = page.parent / path
    return target / "index.html" if path.endswith("/") else target


def broken_links(html_dir: Path) -> list[str]:
    """``page: link`` for every relative link or source of a page that names no file of the
    tree (the pages, not the ``.html`` templates themes copy into ``_static/``)."""
    html_dir = html_dir.resolve()
    broken = []
    for page in sorted(html_dir.rglob("*.html")):
        if page.relative_to(html_dir).parts[0] == "_static":
            continue
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for link in dict.fromkeys(parser.links):
            target = local_target(page, link)
            if target is None:
                continue
            resolved = target.resolve()
            if not resolved.is_relative_to(html_dir) or not resolved.exists():
                broken.append(f"{page.relative_to(html_dir)}: {link}")
    return broken


def check_tree(html_dir: Path) -> list[Path]:
    """The files to publish (relative to ``html_dir``); :class:`PublishError` when the tree is
    not a built book or a page links a missing file."""
    if not (html_dir / "index.html").is_file():
        raise PublishError(f"{html_dir}: no index.html; build the book first (make book)")
    if not (html_dir / MATHJAX).is_file():
        raise PublishError(f"{html_dir}: {MATHJAX} is missing, so the equations would stay raw "
                           "TeX: run `make mathjax`, then build the book again")
    broken = broken_links(html_dir)
    if broken:
        more = f" (and {len(broken) - 3} more)" if len(broken) > 3 else ""
        raise PublishError(f"{html_dir}: {len(broken)} links name no file of the book: "
                           + "; ".join(broken[:3]) + more)
    return sorted(p.relative_to(html_dir) for p in html_dir.rglob("*") if p.is_file())


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)


def fetch_published(repo: Path, remote: str, branch: str = BRANCH) -> bool:
    """Make the local ``branch`` the remote's (when the remote has one), so the new commit
    goes on top of what is published; False when the remote has no such branch yet."""
    if _git(repo, "ls-remote", "--exit-code", "--heads", remote, branch).returncode != 0:
        return False
    got = _git(repo, "fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/heads/{branch}")
    if got.returncode != 0:
        raise PublishError(f"git fetch {remote} {branch} failed: {got.stderr.strip()}")
    return True


def publish(html_dir: Path, remote: str, repo: Path = ROOT, branch: str = BRANCH,
            message: str | None = None) -> int:
    """Check ``html_dir`` and push it to ``branch`` of ``remote``; returns the file count."""
    from ghp_import import GhpError, ghp_import

    html_dir = Path(html_dir).resolve()
    files = check_tree(html_dir)
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise PublishError(f"{repo}: not a git repository (publish from a clone of the project)")
    fetch_published(repo, remote, branch)
    head = _git(repo, "rev-parse", "--short", "HEAD").stdout.strip() or "unknown"
    message = message or f"Publish the book built from {head}"
    try:
        with contextlib.chdir(repo):             # ghp-import works on the current directory
            ghp_import(str(html_dir), mesg=message, remote=remote, branch=branch,
                       nojekyll=True, push=True)
    except (GhpError, subprocess.CalledProcessError) as e:
        raise PublishError(f"pushing {branch} to {remote} failed: {e}") from None
    local = _git(repo, "rev-parse", f"refs/heads/{branch}").stdout.strip()
    remote_head = _git(repo, "ls-remote", "--heads", remote, branch).stdout.split()
    if not local or not remote_head or remote_head[0] != local:
        raise PublishError(f"{branch} of {remote} is not the commit just made ({local or 'none'}):"
                           " the push did not go through")
    return len(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remote", required=True,
                        help="git remote name, URL or path to push the gh-pages branch to")
    parser.add_argument("--html", type=Path, default=ROOT / HTML, help="the built book")
    parser.add_argument("--branch", default=BRANCH)
    args = parser.parse_args(argv)
    try:
        n = publish(args.html, args.remote, branch=args.branch)
    except PublishError as e:
        print(f"publish: {e}", file=sys.stderr)
        return 2
    print(f"publish: {n} files of {args.html} pushed to {args.branch} of {args.remote}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
