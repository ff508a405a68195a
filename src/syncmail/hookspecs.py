"""Every hook syncmail calls, with its contract: this module is the plugin reference.

Hooks are grouped by the phase of a run in which they are called. Plugins implement
them with ``@syncmail.hookimpl`` and may accept any subset of the documented
arguments (pluggy passes only those they name). All hooks are called with keyword
arguments.

Ordering and delivery guarantees of the per-message events: they are delivered after
the box pair's sync state has been committed, so a plugin only hears of changes that
are durable on both sides, box by box, in the order the boxes were synced; with
``DetectMoves``, the flag and removal events of a message that moved to another box
come after the channel's last box, once its new copy is committed. Delivery is
*at-least-once* across a crash: an event may be delivered again after syncmail was
interrupted, so plugins must be idempotent (indexing a file twice, setting a tag that
is already set).

A plugin that raises from an event hook is logged as a ``PluginError`` naming it; the
other plugins still get the event and the sync goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

from syncmail import PROJECT_NAME

if TYPE_CHECKING:
    from syncmail.config.model import Config, ExtraKeyword, Target
    from syncmail.events import (
        CredentialRequest,
        FlagsChanged,
        MessageRemoved,
        NewMessage,
        RunSummary,
    )
    from syncmail.keywords import KeywordSource
    from syncmail.oauth2.tokens import TokenBackend

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

# Bumped when a hook changes in a way plugins could notice; hooks only ever gain
# optional arguments, they never change meaning.
HOOK_API_VERSION = 1


# -------------------------------------------------------------------------------------
# Configuration phase


@hookspec
def syncmail_config_keywords() -> list[ExtraKeyword]:
    """Declare the configuration keywords this plugin reads.

    Called before the configuration file is parsed (once per run; ``syncmail watch``
    asks again for each SIGHUP reload), so that the parser accepts the plugin's
    keywords instead of rejecting them as unknown.

    :return: A list of :class:`syncmail.config.model.ExtraKeyword`. With ``section``
        set to ``"Global"``, ``"IMAPAccount"``, ``"IMAPStore"``, ``"MaildirStore"`` or
        ``"Channel"`` the keyword is added to that kind of section and its value lands
        in the section's ``extra`` mapping (for example
        ``IMAPAccountConfig.extra["PassEntry"]``). With any other ``section`` word the
        plugin declares a section of its own, written ``<section> <name>`` followed by
        ``<keyword> <value>`` lines; its values land in
        ``Config.plugin_sections[section][name].values``. A section of its own is
        declared by returning one ``ExtraKeyword`` per keyword allowed in it.

    Not firstresult: the lists of all plugins are concatenated.
    """
    raise NotImplementedError


# -------------------------------------------------------------------------------------
# Run phase


@hookspec
def syncmail_pre_sync(config: Config, targets: Sequence[Target]) -> str | None:
    """Called once per run after the configuration is loaded, before any box is synced
    (in a one-shot run, before any store is opened; ``syncmail watch`` keeps its
    connections from run to run).

    Use it to prepare: push changes made in another tool into the Maildir so that this
    run sends them to the server, open connections, check preconditions.

    :param config: The parsed configuration (frozen; do not modify).
    :param targets: The channels (and box lists) this run will sync, in order.
    :return: ``None`` to let the run go on, or a one-line reason string to veto the
        whole run; syncmail then reports the reason and syncs nothing (a one-shot run
        exits non-zero; ``syncmail watch`` goes on to its next run).

    Not firstresult: every plugin is called; the first returned reason wins. An
    exception from this hook is logged as a ``PluginError`` and does not veto the run.
    """
    raise NotImplementedError


@hookspec
def syncmail_post_sync(summary: RunSummary) -> None:
    """Called once at the end of a run, after every box was synced and its events delivered.

    Also called when some boxes or stores failed (see ``summary.errors`` and each
    ``BoxResult.error``), when a plugin vetoed the run (no box synced; the veto is in
    ``summary.errors``), and on a dry run (``summary.dry_run``), where no event hook
    was called. Plugins that buffered events write them out here.

    :param summary: A :class:`syncmail.events.RunSummary` of the whole run.
    :return: Nothing; return values are ignored.

    Not firstresult.
    """


# -------------------------------------------------------------------------------------
# Watch phase (``syncmail watch``): a long-running process made of many runs


@hookspec
def syncmail_watch_started(config: Config, targets: Sequence[Target]) -> None:
    """``syncmail watch`` started, before its first run.

    A watch is a sequence of ordinary runs: one at start, then one each time boxes
    changed (usually one box pair), each with its own ``syncmail_pre_sync`` and
    ``syncmail_post_sync`` and the per-message events in between, so a plugin that
    works for ``syncmail -a`` works unchanged; it may use this hook to keep state (an
    open index, a cache) between runs until ``syncmail_watch_stopped``.  After SIGHUP
    the watch stops and starts again with the new config.

    :param config: The parsed configuration.
    :param targets: What is watched: a :class:`syncmail.config.model.Target` per channel.
    :return: Nothing; return values are ignored.

    Not firstresult.
    """


@hookspec
def syncmail_watch_paths(config: Config) -> list[str]:
    """Directories outside the synced Maildirs whose changes should start a run.

    A run begins with ``syncmail_pre_sync``, in which a plugin can turn changes made
    elsewhere into Maildir changes (the notmuch plugin writes tag changes found through
    ``lastmod`` into file flags), which the watch then syncs.  Return the directories
    whose writes mean such changes (the notmuch database's directory); each change in
    them is followed, after a quiet period, by a run with no box pairs.

    :param config: The parsed configuration.
    :return: A list of directory paths (missing ones are skipped).

    Not firstresult: the lists of all plugins are concatenated.
    """
    raise NotImplementedError


@hookspec
def syncmail_watch_stopped() -> None:
    """``syncmail watch`` is ending (SIGTERM, SIGINT, or a reload on SIGHUP), after its
    last run.

    :return: Nothing; return values are ignored.

    Not firstresult.
    """


# -------------------------------------------------------------------------------------
# Per box / per message phase (delivered after the box's state is committed)


@hookspec
def syncmail_new_message(event: NewMessage) -> None:
    """A message was copied into a box by this run.

    Called once per delivered message, after the box pair's state was committed (see
    the module docstring for ordering and at-least-once delivery).

    :param event: A :class:`syncmail.events.NewMessage`: ``channel``, ``box``, the
        ``side``/``store`` that received the copy, its ``uid``, its ``flags`` as
        Maildir letters, the ``message_id`` when known and, when the receiving side is
        a Maildir, the absolute ``path`` of the new file.
    :return: Nothing; return values are ignored.

    Not firstresult.
    """


@hookspec
def syncmail_flags_changed(event: FlagsChanged) -> None:
    """The flags of a message were changed on one side to follow the other side.

    Called after the box's state was committed. For a Maildir side the file was
    renamed; ``event.path`` is the *new* path (other indexes, such as notmuch's, may
    still know the old name).

    :param event: A :class:`syncmail.events.FlagsChanged`: ``side``/``store`` that was
        changed, ``uid``, ``old_flags`` and ``new_flags`` (Maildir letters),
        ``changed_on`` (the side where the user made the change) and ``path``.
    :return: Nothing; return values are ignored.

    Not firstresult.
    """


@hookspec
def syncmail_message_removed(event: MessageRemoved) -> None:
    """A message was expunged from one side, or moved to its trash (``event.trashed``).

    Called after the box's state was committed. For a Maildir side ``event.path`` is
    the path the file had (it no longer exists there).

    :param event: A :class:`syncmail.events.MessageRemoved`.
    :return: Nothing; return values are ignored.

    Not firstresult.
    """


# -------------------------------------------------------------------------------------
# Providers (firstresult: the first plugin returning non-None wins)


@hookspec(firstresult=True)
def syncmail_get_credentials(request: CredentialRequest) -> str | None:
    """Provide a user name or password for an IMAP account.

    Called when a store connects and needs a credential: a user name or password once
    per account and process (then kept in memory), an OAuth2 token at every login (it
    expires; the provider decides when to refresh). Plugins are asked in
    registration order (last registered first, ``tryfirst``/``trylast`` respected);
    the built-in provider (``syncmail.credentials``: ``User``/``UserCmd``/``Pass``/
    ``PassCmd``/prompt) is registered ``trylast`` and so comes after every plugin.

    :param request: A :class:`syncmail.events.CredentialRequest`: the ``account``
        name, ``kind`` (``"user"`` or ``"password"``), ``host``, the ``user`` when
        already known, ``extra``, the plugin keywords of the account section, and for
        an OAuth2 login ``mechanism`` (``"XOAUTH2"`` or ``"OAUTHBEARER"``; ``None`` for
        a password login) and ``fresh``.
    :return: The credential, or ``None`` when this plugin has nothing for the
        account, to let the next provider answer. Raise
        ``syncmail.errors.AuthenticationFailed`` when the plugin is responsible for the
        account but cannot produce the credential; never put the secret in the message.

    OAuth2: with ``request.mechanism`` set, the ``"password"`` asked for is the bearer
    access token (as mbsync takes ``PassCmd``'s output), so a plugin can supply tokens
    from anywhere (a keyring, MSAL, a pizauth daemon). ``request.fresh`` is ``True``
    when the server has just refused the previous token: return a newly refreshed
    one, not a cached one. It is asked at most once per refused login, so a plugin
    need not guard against refresh loops. The built-in provider answers with ``Pass``
    or ``PassCmd``, or with syncmail's own token manager (``syncmail oauth2``).
    Values returned for ``"password"`` are masked in all log output.

    firstresult: the first non-``None`` value is used and later providers are not asked.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def syncmail_keyword_source(store: str, box: str, path: str) -> KeywordSource | None:
    """Provide the IMAP keywords of a Maildir box's messages (a Maildir has no place for them).

    Called for the Maildir side of a synced box pair (not for a Maildir store with
    ``KeywordLetters``, whose file names hold the keywords): before the pair is
    opened, when nothing else changed, to ask ``changed()``; and after its messages
    were synced and its events delivered, unless the pair failed, for
    ``read``/``write``. Keywords are synced only where the other side holds them too
    (an IMAP box, or a Maildir with a source). Without a source the Maildir side holds
    no keywords and the pair's keywords are not synced. The bundled notmuch
    plugin answers with notmuch tags mapped to keywords (``docs/notmuch.md``).

    :param store: The Maildir store's name.
    :param box: The box's canonical name.
    :param path: The box's directory (absolute).
    :return: A :class:`syncmail.keywords.KeywordSource` for the box, or ``None`` when
        this plugin does not keep keywords for it. Its methods: ``changed()``, whether a
        keyword may have changed since the last run (the pair is then synced even when
        no file changed); ``allowed(keyword)``, whether the box can hold that keyword
        (folded to lower case; a keyword not allowed is never synced, in either
        direction); ``read(paths)``, the keywords of each of these absolute file names
        (in IMAP spelling, see :func:`syncmail.keywords.encode_tag`; a file left out is
        not synced this run); ``write(edits)``, ``(path, add, remove)`` triples to apply.
        The engine merges both sides' keywords three-way against the set last synced
        (``<state>.syncmail-keywords``), so ``write`` need not be atomic across files:
        a run interrupted in between is completed by the next one.

    firstresult: the first non-``None`` value is used and later providers are not asked.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def syncmail_token_store(account: str, spec: str) -> TokenBackend | None:
    """Keep the OAuth2 token record of an account of syncmail's token manager.

    Called by ``syncmail oauth2 login|token|status|logout`` and by a login whose tokens
    come from the token manager, when the account's ``[accounts.NAME]`` table in
    ``oauth2.toml`` has a ``token_store`` other than ``"file"`` (the built-in store,
    ``$XDG_DATA_HOME/syncmail/oauth2/NAME.json``, which is not a plugin). The bundled
    pass plugin answers ``"pass:ENTRY"``; a keyring plugin could answer ``"keyring:..."``.

    :param account: The token manager's account name (the ``[accounts.NAME]`` table).
    :param spec: The ``token_store`` value, ``"SCHEME:WHERE"`` (for example
        ``"pass:oauth/work"``); answer only the schemes this plugin owns.
    :return: ``None`` when the spec is not this plugin's, else an object with
        ``where`` (a string naming the place in messages, such as ``"pass entry
        oauth/work"``), ``load()`` (the stored record, a dict, or ``None`` when there is
        none yet), ``save(record)`` (replace the record whole) and ``remove()`` (forget it;
        ``True`` when there was one): the protocol
        :class:`syncmail.oauth2.tokens.TokenBackend`. The record is a JSON-able dict
        with the keys ``refresh_token``, ``access_token``, ``expires_at``,
        ``obtained_at`` (Unix seconds), ``scope`` and ``provider``; store it whole and
        give it back unchanged (``json.dumps`` is enough). Raise
        :class:`syncmail.oauth2.tokens.TokenStoreError` with a one-line message naming
        the place when the store cannot be used; never put a token in it (any other
        exception is reported by its type only).

    syncmail serialises the refresh itself: ``load`` and ``save`` are called while
    syncmail holds the account's lock file (``$XDG_DATA_HOME/syncmail/oauth2/NAME.lock``),
    so parallel processes refresh once and the store needs no locking of its own; only
    ``syncmail oauth2 status``, which just reads, calls ``load`` without it.
    Every value loaded is masked in log output. To hand out tokens that syncmail does
    not refresh at all (MSAL, a pizauth daemon), answer ``syncmail_get_credentials``
    instead.

    firstresult: the first non-``None`` value is used and later providers are not asked.
    """
    raise NotImplementedError
