"""Molecule-style scenarios: a lab made for a playbook, converged twice, verified, destroyed.

`model` reads molecule/NAME/molecule.yml into a Scenario value (pure), `runner` carries out the
sequence of actions, `cli` is `orchestr scenario ...`.
"""
