"""A Host that replays recorded command outputs and keeps files in a dict."""


class FakeHost(object):
    def __init__(self, files=None, commands=None):
        self.files = dict(files or {})
        self.commands = dict(commands or {})  # tuple(argv) -> stdout, or (rc, stdout, stderr)
        self.calls = []

    def run(self, argv, data=None, check=True):
        self.calls.append(tuple(argv))
        answer = self.commands.get(tuple(argv))
        if isinstance(answer, list):  # successive answers: before and after a change
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
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

    directories = None  # {path: mode}; None: no directory tracking

    def is_directory(self, path):
        return path in (self.directories or {})

    def make_directory(self, path, mode):
        self.calls.append(("mkdir", path, mode))
        self.directories = dict(self.directories or {}, **{path: mode})

    def set_mode(self, path, mode):
        self.calls.append(("chmod", path, mode))
        self.directories[path] = mode

    def mode(self, path):
        return self.directories[path], 0

    def install_file(self, path, content, mode=0o644):
        self.calls.append(("install", path))
        self.files[path] = content

    def remove_file(self, path):
        self.calls.append(("remove", path))
        self.files.pop(path, None)

    def which(self, name):
        return "/usr/bin/" + name if name in self.binaries else None

    binaries = ()

    def sysread(self, path):
        return self.files.get(path)


class ReplayModule(object):
    """Enough of an AnsibleModule for a real Host: replays commands, records them."""

    def __init__(self, commands=None, binaries=("systemctl",)):
        self.commands = dict(commands or {})
        self.binaries = binaries
        self.calls = []

    def run_command(self, argv, data=None, binary_data=False):
        self.calls.append(tuple(argv))
        answer = self.commands.get(tuple(argv))
        if answer is None:
            raise AssertionError("unexpected command %s" % " ".join(argv))
        return answer if isinstance(answer, tuple) else (0, answer, "")

    def get_bin_path(self, name):
        return "/usr/bin/" + name if name in self.binaries else None


def run_module(module, args, host, check_mode=False, diff=False, capsys=None):
    """Run a module's main() with ``args`` and ``host`` in place of the real Host.

    Returns the module's JSON result (``failed`` set when it called fail_json), with the
    messages of module.warn() in ``warnings``.
    """
    import json
    from unittest import mock

    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args

    args = dict((k, v) for k, v in args.items() if v is not None)  # as Ansible passes unset options
    args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
    warned = []  # module.warn() goes to the controller's display under pytest, so record it here
    with patch_module_args(args), mock.patch.object(module, "Host", lambda *a, **k: host), \
            mock.patch.object(AnsibleModule, "warn", lambda self, msg: warned.append(msg)):
        try:
            module.main()
        except SystemExit:
            pass
    result = json.loads(capsys.readouterr().out)
    result["warnings"] = warned
    return result
