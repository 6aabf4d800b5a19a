# swa-book: one command builds the book, one runs the tests. Both create and use .venv.
#   make          build the whole book (executes every notebook at the laptop profile, then HTML)
#   make test     run the test suite (installs what it needs first)
#   make bench    run the benchmarks (prints each ratio)
#   make pdf      the book as a PDF (_build/latex/swa-book.pdf; needs TeX, see README)
#   make lint     ruff check (with RUF100: a dead noqa is an error)
#   make format   ruff format + import sorting
#   make sync     regenerate notebooks/*.ipynb inputs from the .py sources (outputs kept)
#   make batch PROFILE=paper OUT=executed/ [GPUS=0,1,...]   every notebook with a papermill profile
#                 (GPUS: one notebook per GPU in parallel)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
PROFILE ?= smoke
OUT ?= executed/$(PROFILE)

.PHONY: all book pdf test lint format bench sync execute batch clean demo install

all: book

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e ".[book,dev,lightning]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

LINTED := src tests benchmarks tools notebooks/*.py

test: lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)

# Notebook code is formatted narrower (88) so that it fits the book's text column.
format: $(STAMP)
	$(BIN)/ruff check --select I --fix $(LINTED)
	$(BIN)/ruff format src tests benchmarks tools
	$(BIN)/ruff format --line-length 88 notebooks/*.py

demo: $(STAMP)
	$(BIN)/swa-lib compare --dataset mnist1d --model mlp --num-samples 5000 --epochs 60 \
		--swa-start 45 --swa-lr 0.05 --batch-size 100 --seeds 0 1 2 --plot runs/compare.png

# Inputs always come from the .py (jupytext --sync would take them from the newer .ipynb, i.e.
# copy papermill's injected-parameters cell into the source after an execution).
sync: $(STAMP)
	$(BIN)/jupytext --to ipynb --update notebooks/[0-9][0-9]_*.py

execute: $(STAMP)
	$(PY) tools/execute_notebooks.py --profile laptop --in-place

book: $(STAMP)
	$(MAKE) execute
	$(BIN)/jupyter-book build . -W -n --keep-going

# The PDF renders the committed notebook outputs (run `make execute` first to refresh them).
pdf: $(STAMP)
	$(BIN)/jupyter-book build . --builder pdflatex -n --keep-going
	@echo "PDF: _build/latex/swa-book.pdf"

GPUS ?=
batch: $(STAMP)
	$(PY) tools/execute_notebooks.py --profile $(PROFILE) --out $(OUT) $(if $(GPUS),--gpus $(GPUS),)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf _build executed
