"""The keywords plays, tasks, blocks and roles accept: Ansible's, and which orchestr implements.

A keyword Ansible knows but orchestr does not implement is refused with its own message rather
than ignored, because ignoring `remote_user:` or `async:` would silently run something else than
the operator wrote. The few in *_IGNORED change nothing about what runs and are accepted.
"""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Every keyword ansible-core 2.19 accepts (Play/Task/Handler/Block/RoleInclude .fattributes).
_BASE = words(
    "any_errors_fatal become become_exe become_flags become_method become_user check_mode "
    "collections connection debugger diff environment ignore_errors ignore_unreachable "
    "module_defaults name no_log port remote_user run_once tags throttle timeout vars"
)
ANSIBLE_PLAY = _BASE | words(
    "fact_path force_handlers gather_facts gather_subset gather_timeout handlers hosts "
    "max_fail_percentage order post_tasks pre_tasks roles serial strategy tasks vars_files "
    "vars_prompt"
)
ANSIBLE_TASK = _BASE | words(
    "action args async changed_when delay delegate_facts delegate_to failed_when local_action "
    "loop loop_control notify poll register retries until when"
)
ANSIBLE_HANDLER = ANSIBLE_TASK | {"listen"}
ANSIBLE_BLOCK = _BASE | words("always block delegate_facts delegate_to notify rescue when")
ANSIBLE_ROLE = _BASE | words("delegate_facts delegate_to role when")

# What orchestr implements.
PLAY = words(
    "name hosts vars vars_files tasks pre_tasks post_tasks handlers roles serial "
    "max_fail_percentage any_errors_fatal gather_facts gather_subset gather_timeout fact_path "
    "strategy become become_user "
    "become_method tags environment check_mode diff collections remote_user connection "
    "throttle vars_prompt"
)
PLAY_IGNORED = words("debugger")
TASK = words(
    "name when loop loop_control register notify tags changed_when failed_when ignore_errors "
    "until retries delay delegate_to run_once become become_user become_method check_mode diff "
    "vars environment no_log args action local_action collections throttle delegate_facts "
    "remote_user async poll"
)
TASK_IGNORED = frozenset({"debugger"})
HANDLER = TASK | {"listen"}
BLOCK = words(
    "block rescue always name when tags become become_user become_method vars environment "
    "ignore_errors delegate_to run_once check_mode no_log collections notify throttle "
    "delegate_facts remote_user"
)
# `- role: x` entries: these are keywords; any other key is a role parameter (as in Ansible).
ROLE = words(
    "role name vars when tags become become_user become_method environment ignore_errors "
    "delegate_to run_once check_mode no_log remote_user throttle delegate_facts"
)
IMPORT_PLAYBOOK = frozenset({"import_playbook", "name", "vars", "when", "tags"})

LOOP_CONTROL = words("loop_var index_var label pause extended extended_allitems break_when")

# `with_<lookup>` forms orchestr turns into a LoopWith (see model.LoopWith).
WITH_LOOKUPS = words(
    "items list dict indexed_items flattened together nested sequence subelements fileglob "
    "first_found random_choice lines file env inventory_hostnames"
)

# Task-level actions the runner implements itself, with the arguments they take
# (None: any argument, as set_fact's variable names). The module registry wins when it has one.
PSEUDO_MODULES: dict[str, frozenset[str] | None] = {
    "include_tasks": frozenset({"file", "_raw_params", "apply"}),
    "import_tasks": frozenset({"file", "_raw_params"}),
    "include_role": words(
        "name tasks_from vars_from defaults_from handlers_from apply public allow_duplicates "
        "rolespec_validate"
    ),
    "import_role": words(
        "name tasks_from vars_from defaults_from handlers_from public allow_duplicates "
        "rolespec_validate"
    ),
    "meta": frozenset({"_raw_params"}),
    "set_fact": None,
    "debug": frozenset({"msg", "var", "verbosity"}),
}
FREE_FORM_PSEUDO = frozenset({"include_tasks", "import_tasks", "meta"})
META_ACTIONS = words(
    "noop flush_handlers refresh_inventory clear_facts clear_host_errors end_play end_host "
    "end_batch end_role reset_connection role_complete"
)
# k=v options a free-form module (command, shell, raw...) takes beside its command line.
FREE_FORM_OPTIONS = words(
    "creates removes chdir executable warn stdin stdin_add_newline strip_empty_ends"
)
REMOVED = {
    "include": "use include_tasks (dynamic) or import_tasks (static); `include` was removed",
}
