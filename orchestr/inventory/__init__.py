"""Ansible-compatible inventories: load INI/YAML/JSON sources and select hosts by pattern."""

from __future__ import annotations

from orchestr.inventory.loader import load_inventory
from orchestr.inventory.model import Group, Host, Inventory, Selection

__all__ = ["Group", "Host", "Inventory", "Selection", "load_inventory"]
