"""The playbook corpus (issue 5): every playbook in tests/integration/playbooks/ is run by
ansible-playbook and by orchestr against the same lab hosts. The PLAY RECAP counts per host, the
exit codes and the files each run leaves on the hosts must be the same.

Header comments in a playbook steer its case:
  # idempotent       run each tool a second time: changed=0 on every host for both
  # args: --check    more command-line arguments, given to both tools

Each tool works in its own scratch directory (extra var `workdir`, see playbook_fixtures), so
the ansible runs go on in the background (4 at once) while the tests run orchestr.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.integration.playbook_fixtures import (
    REMOTE_ROOT,
    Case,
    LabShell,
    ToolResult,
    corpus_cases,
    run_tool,
)

CASES = corpus_cases()

# Corpus playbooks on which orchestr is known to disagree with ansible-playbook: bugs to fix.
XFAIL: dict[str, str] = {}


def _params() -> list:
    params = []
    for case in CASES:
        marks = []
        if case.name in XFAIL:
            marks.append(pytest.mark.xfail(strict=True, reason=f"orchestr bug: {XFAIL[case.name]}"))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


@pytest.fixture(scope="session")
def corpus_scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="session")
def ansible_results(request, lab, corpus_scratch):
    """ansible-playbook's result for every selected corpus playbook, computed in the background."""
    selected = {
        item.callspec.params["case"].name
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)
    }
    LabShell(lab).each(f"rm -rf {REMOTE_ROOT}")
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ansible-corpus")
    futures: dict[str, Future[ToolResult]] = {
        case.name: pool.submit(run_tool, lab, case, "ansible", corpus_scratch)
        for case in CASES
        if case.name in selected
    }
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def test_corpus_is_large_enough():
    assert len(CASES) >= 25, [case.name for case in CASES]


def _summary(result: ToolResult, index: int) -> str:
    return f"--- {result.tool} run {index + 1}: {result.runs[index].describe()}"


@pytest.mark.parametrize("case", _params())
def test_orchestr_matches_ansible(case: Case, lab, ansible_results, corpus_scratch):
    orchestr = run_tool(lab, case, "orchestr", corpus_scratch)
    ansible = ansible_results[case.name].result(timeout=600)
    both = f"{_summary(ansible, 0)}\n{_summary(orchestr, 0)}"

    assert ansible.runs[0].recap, f"ansible printed no recap\n{both}"
    assert orchestr.runs[0].recap == ansible.runs[0].recap, both
    assert orchestr.runs[0].returncode == ansible.runs[0].returncode, both

    if case.idempotent:
        again = f"{_summary(ansible, 1)}\n{_summary(orchestr, 1)}"
        for result in (ansible, orchestr):
            changed = {host: c["changed"] for host, c in result.runs[1].recap.items()}
            assert changed and not any(changed.values()), f"{result.tool} not idempotent\n{again}"
        assert orchestr.runs[1].recap == ansible.runs[1].recap, again
        assert orchestr.runs[1].returncode == ansible.runs[1].returncode, again

    assert orchestr.state == ansible.state, both
