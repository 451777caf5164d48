"""A filter plugin beside the corpus playbooks (templating.yml uses it)."""


def banner(text, width=20):
    return str(text).center(width, "=")


class FilterModule:
    def filters(self):
        return {"banner": banner}
