"""Ad-hoc commands on many hosts at once: Ansible's `ansible PATTERN -m shell -a ...`."""
