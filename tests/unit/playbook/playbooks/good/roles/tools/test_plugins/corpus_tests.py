"""A test plugin in a role: Ansible makes it known to the whole playbook."""


def port(value):
    return isinstance(value, int) and 0 < value < 65536


class TestModule:
    def tests(self):
        return {"port": port}
