"""A test plugin of a role: known to the role's tasks and, as Ansible has it, to the play's."""


def corpus_port(value):
    return isinstance(value, int) and 0 < value < 65536


class TestModule:
    def tests(self):
        return {"corpus_port": corpus_port}
