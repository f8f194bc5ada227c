# The two commands of the README:
#   make demo   set up (core + [report], no TensorFlow), convert the bundled sample dataset
#               and write its HTML report (the last line printed is its path)
#   make test   set up with the test extras (TensorFlow included) and run the test suite
#               (then the workers' parity tests again, with spawned workers)
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/python -m pip install -q -c requirements/constraints.txt

.PHONY: demo test setup setup-test mutation clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

setup: $(VENV)/bin/python
	$(PIP) -e .

setup-test: $(VENV)/bin/python
	$(PIP) "setuptools>=77" wheel
	$(PIP) -e ".[test]"
	# The OD API itself (no deps: it pins tf-models-official and pyparsing 2.4.7): its protos parse our
	# pipeline configs, and its TfExampleDecoder reads every record the format tests write.
	$(PIP) --no-deps tf-models-research-object-detection==2.8.0.post1

demo: $(VENV)/bin/python
	# The core and the [report] extra (matplotlib): still no TensorFlow.
	$(PIP) -e ".[report]"
	mkdir -p out
	$(VENV)/bin/tfrconv voc --data-dir samples/VOCdevkit --year VOC2012 --set val \
		--output out/shapes_val.record --report out/shapes_val.problems.jsonl
	$(VENV)/bin/tfrconv voc --data-dir samples/VOCdevkit --year VOC2012 --set train \
		--output out/shapes_train.record --num-shards 4 \
		--report out/shapes_train.problems.jsonl
	$(VENV)/bin/tfrconv inspect 'out/shapes_train.record-*'
	$(VENV)/bin/tfrconv report 'train=out/shapes_train.record-*' val=out/shapes_val.record \
		--problems out/shapes_train.problems.jsonl --problems out/shapes_val.problems.jsonl \
		--out out/report

test: setup-test
	$(VENV)/bin/python -m pytest
	# Workers as macOS, Windows and Python 3.14 start them (spawn), forced here: the parity tests
	# (named by node id, not -k, so the log ends with "N passed" and nothing deselected).
	TFRCONV_WORKER_START=spawn $(VENV)/bin/python -m pytest -q \
		tests/test_sharding.py::test_worker_processes_give_the_same_files

# Mutation testing of the core modules (docs/testing.md): slow, not part of `make test`.
mutation: setup-test
	$(PIP) -e ".[dev]"
	$(VENV)/bin/python tests/mutation/run.py

clean:
	rm -rf out build dist *.egg-info .pytest_cache .hypothesis
