"""Publishing the site: all pages staged beside ``reports/``, then swapped in with two renames.

The staged site is the published one with this run's pages, without the pages no step
produces any more (the page of a trial whose sheet was removed), and with a new index. A
failure at any point leaves ``reports/`` as it was: staging happens in ``build/``, and if the
second rename fails the first is undone.

The staged copies of unchanged pages are hard links to the published ones (a copy only when
``build/`` is on another file system): staging a site of a thousand pages costs no time and no
space. So a staged file is never written in place, only removed or replaced by a rename.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Collection, Iterable
from pathlib import Path

INDEX = "index.html"


def stale_pages(site: Path, planned: Collection[str]) -> list[str]:
    """Pages (``*.html``, relative to ``site``) that no planned step produces."""
    if not site.is_dir():
        return []
    pages = (str(page.relative_to(site)) for page in site.rglob("*.html"))
    return sorted(page for page in pages if page != INDEX and page not in planned)


def assemble(
    staging: Path,
    published: Path,
    rendered: Path,
    new_pages: Iterable[str],
    planned: Collection[str],
    input_digest: str,
) -> None:
    """Build the next site in ``staging`` from ``published`` and this run's ``rendered`` pages."""
    from helpers.pages import site

    shutil.rmtree(staging, ignore_errors=True)
    if published.is_dir():
        shutil.copytree(published, staging, copy_function=_link_or_copy)
    staging.mkdir(parents=True, exist_ok=True)
    for page in stale_pages(staging, planned):
        (staging / page).unlink()
    for page in new_pages:
        target = staging / page
        target.parent.mkdir(parents=True, exist_ok=True)
        (rendered / page).replace(target)
    present = sorted(page for page in planned if (staging / page).is_file())
    index = site.index_page(present, input_digest)
    (staging / INDEX).unlink(missing_ok=True)  # a link to the published index: never write it
    (staging / INDEX).write_text(index, encoding="utf-8")


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, target)


def swap_in(staging: Path, published: Path) -> None:
    """Replace ``published`` by ``staging``; the old site is deleted only once the new is in."""
    retired = published.with_name(".reports-retired")
    shutil.rmtree(retired, ignore_errors=True)
    if published.exists():
        published.rename(retired)
    try:
        staging.rename(published)
    except OSError:
        if retired.exists():
            retired.rename(published)
        raise
    shutil.rmtree(retired, ignore_errors=True)
