"""The bare asyncssh floor the other contenders are compared with."""
