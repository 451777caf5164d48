"""orchestr: an agentless push orchestrator driven by Ansible-format inventories and playbooks."""

__version__ = "0.1.0"
