"""Install syncmail's ``pre-new`` hook script into notmuch's hook directory."""

from __future__ import annotations

import os
import shlex
import subprocess

from syncmail.errors import PluginError

MARKER = "syncmail pre-new hook for notmuch"

# The same text as hooks/notmuch/pre-new in the source tree (a test keeps them equal);
# embedded so that an installed wheel can install the hook without package data.
PRE_NEW_SCRIPT = r"""#!/bin/sh
# syncmail pre-new hook for notmuch: fetch and sync mail before `notmuch new` indexes it.
# Installed by `syncmail install-hook notmuch` (see docs/notmuch.md); safe to edit.
#
# Syncs every channel (`syncmail -a`), or only the channels/groups listed in
#     notmuch config set syncmail.groups "work;personal"
# $SYNCMAIL may name the syncmail executable. A failed sync stops `notmuch new`
# (use `notmuch new --no-hooks` to index without syncing).

SYNCMAIL_IN_NOTMUCH_HOOK=1
export SYNCMAIL_IN_NOTMUCH_HOOK

syncmail="${SYNCMAIL:-syncmail}"
# The config file `syncmail -c FILE install-hook notmuch` named (empty: the default one).
syncmail_config=""

set -f
groups=$(notmuch config get syncmail.groups 2>/dev/null)
if [ -n "$groups" ]; then
    # notmuch prints list values one per line; word splitting turns them into arguments.
    # shellcheck disable=SC2086
    set -- $groups
else
    set -- -a
fi
# Nothing on stdout inside `notmuch new` (cron mail, editors): -q keeps warnings and errors
# but drops the summary. SYNCMAIL_HOOK_VERBOSE=1 shows it.
if [ "${SYNCMAIL_HOOK_VERBOSE:-0}" = 0 ]; then
    set -- -q "$@"
fi
if [ -n "$syncmail_config" ]; then
    set -- -c "$syncmail_config" "$@"
fi

"$syncmail" "$@"
status=$?
if [ "$status" -ne 0 ]; then
    echo "syncmail pre-new hook: \`$syncmail $*\` failed (exit status $status);" \
        "not indexing. Fix the error above, or run \`notmuch new --no-hooks\`." >&2
    exit 1
fi
exit 0
"""


def _notmuch_get(key: str, notmuch_config: str | None) -> str:
    argv = ["notmuch"]
    if notmuch_config:
        argv.append(f"--config={notmuch_config}")
    argv += ["config", "get", key]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PluginError("notmuch", f"cannot run notmuch: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        message = detail[-1] if detail else f"exit status {done.returncode}"
        raise PluginError("notmuch", f"notmuch config get {key} failed: {message}")
    return done.stdout.strip()


def hook_dir(notmuch_config: str | None = None) -> str:
    """notmuch's hook directory: database.hook_dir, the XDG profile dir, or .notmuch/hooks."""
    configured = _notmuch_get("database.hook_dir", notmuch_config)
    if configured:
        return os.path.expanduser(configured)
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    profile = os.environ.get("NOTMUCH_PROFILE") or "default"
    profile_dir = os.path.join(xdg, "notmuch", profile)
    if os.path.isdir(profile_dir):
        return os.path.join(profile_dir, "hooks")
    database = _notmuch_get("database.path", notmuch_config)
    if not database:
        raise PluginError("notmuch", "notmuch has no database.path configured")
    return os.path.join(os.path.expanduser(database), ".notmuch", "hooks")


def install_hook(notmuch_config: str | None = None, syncmail_config: str | None = None) -> str:
    """Write the pre-new script (executable) and return its path.

    ``syncmail_config``: the config file the hook's syncmail is to read (``-c``; made
    absolute, as notmuch runs hooks from elsewhere); None: the default one.
    An existing ``pre-new`` that is not ours is left alone: PluginError says what to do.
    """
    script = PRE_NEW_SCRIPT
    if syncmail_config is not None:
        quoted = shlex.quote(os.path.abspath(syncmail_config))
        script = script.replace('syncmail_config=""', f"syncmail_config={quoted}", 1)
    directory = hook_dir(notmuch_config)
    path = os.path.join(directory, "pre-new")
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            existing: str | None = handle.read()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise PluginError("notmuch", f"cannot read {path}: {exc.strerror}") from None
    if existing is not None and MARKER not in existing:
        raise PluginError(
            "notmuch",
            f"{path} already exists and is not syncmail's; add `syncmail -a` to it "
            "or move it away and install again",
        )
    try:
        os.makedirs(directory, exist_ok=True)
        tmp = f"{path}.syncmail-tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(script)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except OSError as exc:
        raise PluginError("notmuch", f"cannot write {path}: {exc.strerror}") from None
    return path
