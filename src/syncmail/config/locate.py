"""Where mbsync (1.5) looks for its configuration file when ``-c`` is not given."""

from __future__ import annotations

import logging
import os

from syncmail.config.values import expand_path
from syncmail.errors import ConfigError, ConfigProblem

log = logging.getLogger(__name__)


def default_config_path() -> str:
    """``$XDG_CONFIG_HOME/isyncrc`` (default ``~/.config``), else ``~/.mbsyncrc`` (mbsync 1.5).

    When both exist the XDG one wins, with a warning; when neither does, ``ConfigError``
    names both.
    """
    home = expand_path("~", "/")
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    xdg = os.path.join(config_home, "isyncrc")
    legacy = os.path.join(home, ".mbsyncrc")
    xdg_exists, legacy_exists = os.path.lexists(xdg), os.path.lexists(legacy)
    if legacy_exists and not xdg_exists:
        return legacy
    if xdg_exists and legacy_exists:
        log.warning("Both %s and %s exist; using the former.", xdg, legacy)
    if not xdg_exists:
        raise ConfigError(
            [ConfigProblem(xdg, 0, f"cannot read config file: neither {xdg} nor {legacy} exists")]
        )
    return xdg
