# orchestr: `make demo` shows it working, `make test` proves it. Both set up what is missing first:
# apt packages, dockerd, a virtualenv with the project. Run as root on Debian 12.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
APT_PACKAGES := docker.io openssh-client debootstrap busybox-static haproxy dnsutils bind9-utils iptables curl
LAB := default
NAME ?= docker-info

.PHONY: setup apt dockerd venv demo demo-down scenarios test test-unit test-integration lint bench clean

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

# The demo is the default scenario (molecule/default) converged on a lab named $(LAB), left up:
# playbooks/site.yml's services behind HAProxy on lb1:8080, in DNS through `orchestr dns serve`.
demo: setup
	orchestr scenario converge default --lab $(LAB)
	@eval "$$(orchestr scenario env default --lab $(LAB))"; \
	echo; orchestr status -T 3; \
	lb=$$ORCHESTR_SCENARIO_LB_ADDRESS; port=$$ORCHESTR_SCENARIO_DNS_PORT; \
	echo; echo "the site answers through HAProxy and DNS (try it):"; \
	echo "  curl http://$$lb:8080/  ->  $$(curl -s --max-time 3 http://$$lb:8080/)"; \
	echo "  dig @127.0.0.1 -p $$port web.orchestr.internal +short  ->  $$(dig @127.0.0.1 -p $$port web.orchestr.internal +short +tries=1 +time=2 | paste -sd ' ')"; \
	echo "  dig @127.0.0.1 -p $$port _web._tcp.orchestr.internal SRV +short"; \
	echo; echo "orchestr commands on it (status, ps web, sweep, drain...): eval \"\$$(orchestr scenario env default --lab $(LAB))\""; \
	echo "inventory (use it with orchestr or ansible -i): $$ORCHESTR_INVENTORY"; \
	echo "verify it: orchestr scenario verify default --lab $(LAB); tear down with: make demo-down"

demo-down: venv
	orchestr scenario destroy default --lab $(LAB)

# Every scenario under molecule/ (Molecule's test sequence), each on a lab of its own.
scenarios: setup
	$(BIN)/orchestr scenario test --all

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
