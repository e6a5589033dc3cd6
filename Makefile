# Two commands for users: `make report` regenerates the reviewer site, `make test` runs every check.
# Both bootstrap the project's virtual environment (.venv) and Jupyter kernel on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := cell-evidence
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# The resolver behind `make lock`, in a folder of its own: it is not part of the environment.
UV_VERSION := 0.13.9
UV := build/lock-tool/bin/uv

.DEFAULT_GOAL := help
.PHONY: help report pdf test lint lab notebooks bench lock clean trial add-report check

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# The environment is exactly the lock: every package pinned with its hashes (pip refuses any
# other file), the project itself installed without touching its dependencies and built with the
# locked setuptools. A changed lock rebuilds .venv from scratch, so nothing stale survives.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	# The kernel lives inside .venv (not in ~/.local), so papermill and nbval use this interpreter.
	$(PY) -m ipykernel install --prefix $(VENV) --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	touch $(STAMP)

# make's own exit status is 2 for any failed recipe; the pipeline's code (2 bad input, 3 another
# run holds the lock...) is in the "Error N" line make prints. Cron uses the module directly.
report: $(STAMP) ## Regenerate data/processed and reports/ (FORCE=1, TRIAL="id ...", JOBS=n)
	$(PY) -m helpers.run.pipeline $(if $(FORCE),--force) $(foreach id,$(TRIAL),--trial $(id)) $(if $(JOBS),--jobs $(JOBS))

pdf: report ## Print the synthesis and trial pages to build/supplement.pdf (A4, headless Chromium)
	$(PY) -m helpers.pages.pdf

test: $(STAMP) lint ## Lint, unit tests and nbval on the committed notebooks
	$(PY) -m pytest

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# As root (a container) JupyterLab refuses to start without --allow-root.
lab: $(STAMP) ## Open JupyterLab on the project's kernel (LAB_ARGS="--no-browser --port 8890")
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Evidence commands (README "Adding a trial"); optional values are passed only when given.
REPORT_OPTIONS = --file "$(FILE)" --kind "$(KIND)" --citation "$(CITATION)" \
	$(if $(DOI),--doi "$(DOI)") $(if $(REGISTRY),--registry-id "$(REGISTRY)") \
	$(if $(ENDS_BEFORE),--evidence-ends-before "$(ENDS_BEFORE)") \
	$(if $(STARTS_AT),--evidence-starts-at "$(STARTS_AT)")

trial: $(STAMP) ## Start a study: FILE= ID= LABEL= KIND= CITATION= [DOI= REGISTRY= ENDS_BEFORE=]
	$(PY) -m helpers.evidence.tools new-trial --trial-id "$(ID)" --label "$(LABEL)" \
		$(if $(REPORT),--report-id "$(REPORT)") $(REPORT_OPTIONS)

add-report: $(STAMP) ## Add a report to a study: TRIAL= REPORT= FILE= KIND= CITATION= [DOI= ...]
	$(PY) -m helpers.evidence.tools add-report --trial-id "$(TRIAL)" --report-id "$(REPORT)" \
		$(REPORT_OPTIONS)

check: $(STAMP) ## List every problem of the sheets (SHEET=name.yaml for one)
	$(PY) -m helpers.evidence.tools check $(SHEET)

notebooks: $(STAMP) ## Re-execute the committed notebooks in place (after changing helpers or data)
	$(PY) -m helpers.run.notebooks

bench: $(STAMP) ## Run the benchmarks (figures go to benchmarks/README.md)
	$(PY) benchmarks/bench_stats.py
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_trial_page.py

$(UV):
	$(PYTHON) -m venv build/lock-tool
	build/lock-tool/bin/python -m pip install --quiet uv==$(UV_VERSION)

# Keeps the versions already in the lock unless pyproject.toml needs others; to move every
# transitive package to its newest release, delete requirements.lock first.
lock: $(UV) ## Resolve pyproject.toml's pins into requirements.lock (every package, with hashes)
	$(UV) pip compile pyproject.toml --all-extras --group bootstrap --universal \
		--python-version 3.11 --generate-hashes --custom-compile-command "make lock" \
		--quiet --output-file $(LOCK)

clean: ## Remove the environment, build scratch and caches (keeps data and reports)
	rm -rf $(VENV) build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
