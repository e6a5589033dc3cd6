"""Publishing the site: all pages staged beside ``reports/``, then swapped in with two renames.

The staged site is the published one with this run's pages, without the pages no step
produces any more (the page of a trial whose sheet was removed), with the tables this run
built it from (``data/``: a copy of ``data/results`` and ``data/processed``, for download and
for the next comparison), what changed since the published site (:func:`record_changes`)
and a new index. A
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
CHANGES_PAGE, CHANGES_LOG = "changes.html", "changes.json"
SNAPSHOT = "data"  # reports/data/: the tables the site was built from
# reports/data/changes/: the change tables shown by changes.html (absent after a first build)
LAST_CHANGES = "changes"


def stale_pages(site: Path, planned: Collection[str]) -> list[str]:
    """Pages (``*.html``, relative to ``site``) that no planned step produces."""
    if not site.is_dir():
        return []
    pages = (str(page.relative_to(site)) for page in site.rglob("*.html"))
    own = {INDEX, CHANGES_PAGE}  # written by publishing itself, not by a step
    return sorted(page for page in pages if page not in own and page not in planned)


def assemble(
    staging: Path,
    published: Path,
    rendered: Path,
    new_pages: Iterable[str],
    planned: Collection[str],
    input_digest: str,
    site_pages: Iterable[str] = (),
) -> None:
    """Build the next site in ``staging`` from ``published`` and this run's ``rendered`` pages.

    ``site_pages`` are the top-level pages the shared header links (the pipeline's
    ``published_pages``)."""
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
    record_changes(staging, published, site_pages)
    present = sorted(page for page in [*planned, CHANGES_PAGE] if (staging / page).is_file())
    index = site.index_page(present, input_digest)
    (staging / INDEX).unlink(missing_ok=True)  # a link to the published index: never write it
    (staging / INDEX).write_text(index, encoding="utf-8")


def record_changes(staging: Path, published: Path, site_pages: Iterable[str]) -> None:
    """Put this run's tables in ``staging/data`` and what changed since ``published`` in
    ``changes.html`` and ``changes.json``.

    A run whose results equal the published ones keeps the last changes (the page says what
    the last regeneration that changed a result changed); a first build says there is nothing
    to compare with. Files are replaced only when their content differs, so an unchanged page
    keeps its date.
    """
    from helpers import data, paths
    from helpers.data import changes
    from helpers.pages import changes as changes_page

    specs = {**data.RESULTS, **data.TABLES}
    old_snapshot = published / SNAPSHOT
    had_results = (old_snapshot / "results").is_dir()
    old = _snapshot_tables(old_snapshot, specs) if had_results else None
    snapshot = staging / SNAPSHOT
    shutil.rmtree(snapshot, ignore_errors=True)  # hard links to the published copy
    for folder, source in (("results", paths.results_dir()), ("processed", paths.processed_dir())):
        shutil.copytree(source, snapshot / folder, ignore=shutil.ignore_patterns(".*"))
    found = changes.compare(old, _snapshot_tables(snapshot, specs))
    if found is None or changes.nothing_changed(found):
        last = old_snapshot / LAST_CHANGES
        found = changes.read_changes(last) if last.is_dir() else None
    if found is not None:
        (snapshot / LAST_CHANGES).mkdir()
        for name, frame in found.items():
            frame.to_csv(snapshot / LAST_CHANGES / f"{name}.csv", index=False, lineterminator="\n")
    _replace_if_changed(staging / CHANGES_LOG, changes.to_json(found))
    page = changes_page.changes_page(found, pages=site_pages)
    _replace_if_changed(staging / CHANGES_PAGE, page)


def _snapshot_tables(snapshot: Path, specs) -> dict:
    from helpers.data import changes

    return {
        **changes.read_tables(snapshot / "results", specs),
        **changes.read_tables(snapshot / "processed", specs),
    }


def _replace_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (a staged file: replaced, never written in place) unless it
    already holds it."""
    content = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == content:
        return
    path.unlink(missing_ok=True)
    path.write_bytes(content)


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
