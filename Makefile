# orchestr: `make demo` shows it working, `make test` proves it. Both set up what is missing first:
# apt packages, dockerd, a virtualenv with the project. Run as root on Debian 12.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
APT_PACKAGES := docker.io openssh-client debootstrap busybox-static haproxy dnsutils bind9-utils iptables curl
LAB := default
NAME ?= docker-info

.PHONY: setup apt dockerd venv demo demo-down test test-unit test-integration lint bench clean

setup: apt dockerd venv

apt:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo "installing: $(APT_PACKAGES)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

# dockerd is not started on a new machine: start it once and wait until it answers.
dockerd:
	@if ! docker info >/dev/null 2>&1; then \
		echo "starting dockerd (log: /var/log/dockerd.log)"; \
		setsid nohup dockerd >/var/log/dockerd.log 2>&1 < /dev/null & \
		for i in $$(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
		docker info >/dev/null 2>&1 || { echo "dockerd did not start: see /var/log/dockerd.log"; exit 1; }; \
	fi

# Bytecode ahead of time: start-up counts, and PYTHONDONTWRITEBYTECODE may be set.
venv: $(VENV)/.installed
	@$(BIN)/python -m compileall -q orchestr

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: setup
	orchestr lab up --hosts 3 --lb --name $(LAB)
	orchestr apply playbooks/demo.yml -i $$(orchestr lab inventory --name $(LAB) | tail -1)
	orchestr lab status --name $(LAB)
	@echo; echo "the demo app answers on each node (try it):"
	@for a in $$(orchestr lab addresses --name $(LAB) --role node); do echo "  curl http://$$a:8080/  ->  $$(curl -s --max-time 3 http://$$a:8080/)"; done
	@echo; echo "inventory (use it with orchestr or ansible -i): $$(orchestr lab inventory --name $(LAB) | tail -1)"
	@echo "tear down with: make demo-down"

demo-down: venv
	orchestr lab down --name $(LAB)

test: setup
	$(BIN)/pytest

test-unit: venv
	$(BIN)/pytest -m "not integration"

test-integration: setup
	$(BIN)/pytest -m integration

lint: venv
	$(BIN)/ruff check orchestr tests bench
	$(BIN)/ruff format --check orchestr tests bench

bench: setup
	$(BIN)/python -m bench $(NAME)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
