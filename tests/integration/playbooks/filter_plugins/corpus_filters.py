"""Filters beside the corpus playbooks: 31_templating.yml uses them (ansible-playbook and orchestr
both load filter_plugins/ next to a playbook)."""


def corpus_banner(text, width=20):
    return str(text).center(int(width), "=")


class FilterModule:
    def filters(self):
        return {"corpus_banner": corpus_banner}
