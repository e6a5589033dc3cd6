# Two commands for users: `make report` regenerates the reviewer site, `make test` runs every check.
# Both bootstrap the project's virtual environment (.venv) and Jupyter kernel on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := cell-evidence
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help report pdf test lint lab notebooks bench clean trial add-report check

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,lab]"
	# The kernel lives inside .venv (not in ~/.local), so papermill and nbval use this interpreter.
	$(PY) -m ipykernel install --prefix $(VENV) --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	touch $(STAMP)

report: $(STAMP) ## Regenerate data/processed and reports/ (incremental; FORCE=1 reruns all)
	$(PY) -m helpers.run.pipeline $(if $(FORCE),--force,)

pdf: report ## Print the synthesis and trial pages to build/supplement.pdf (A4, headless Chromium)
	$(PY) -m helpers.pages.pdf

test: $(STAMP) lint ## Lint, unit tests and nbval on the committed notebooks
	$(PY) -m pytest

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

lab: $(STAMP) ## Open JupyterLab on the project's kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

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

clean: ## Remove the environment, build scratch and caches (keeps data and reports)
	rm -rf $(VENV) build .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
