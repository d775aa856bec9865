"""A Host that replays recorded command outputs and keeps files in a dict."""


class FakeHost(object):
    def __init__(self, files=None, commands=None):
        self.files = dict(files or {})
        self.commands = dict(commands or {})  # tuple(argv) -> stdout, or (rc, stdout, stderr)
        self.calls = []

    def run(self, argv, data=None, check=True):
        self.calls.append(tuple(argv))
        answer = self.commands.get(tuple(argv))
        if answer is None:
            raise AssertionError("unexpected command %s" % " ".join(argv))
        rc, out, err = answer if isinstance(answer, tuple) else (0, answer, "")
        if check and rc != 0:
            from ansible_collections.sitelink.wgspread.plugins.module_utils.host import CommandError
            raise CommandError(list(argv), rc, out, err)
        return rc, out, err

    def read(self, path):
        return self.files.get(path)

    def exists(self, path):
        return path in self.files

    def write_private(self, path, content):
        self.calls.append(("write", path))
        self.files[path] = content

    def remove(self, path):
        self.calls.append(("remove", path))
        self.files.pop(path, None)
