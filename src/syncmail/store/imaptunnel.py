"""mbsync's ``Tunnel``: an IMAP connection over a command run by ``/bin/sh -c``.

The command gets one end of a socketpair as its stdin and stdout, imaplib talks over the
other end, so socket timeouts and TLS (STARTTLS or IMAPS through the tunnel) work as on TCP.
imapclient's own stream mode is not used: it cannot time out and breaks on large literals.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import subprocess
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

log = logging.getLogger(__name__)

__all__ = ["TunnelError", "TunnelIMAP4", "open_tunnel"]

# How long a tunnel command may take to exit once its connection is closed.
_EXIT_GRACE = 5.0


class TunnelError(Exception):
    """The tunnel command could not be started, or it went away before the greeting."""


class TunnelIMAP4(imaplib.IMAP4):
    """imaplib over a ``/bin/sh -c command`` child instead of a TCP connection.

    ``host`` is used only to check the server certificate when TLS runs through the tunnel;
    with ``ssl_context`` the whole tunnel speaks TLS from the start (IMAPS).
    """

    def __init__(
        self,
        command: str,
        *,
        host: str = "",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float | None = None,
    ) -> None:
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None
        self._imaps_context = ssl_context
        try:
            super().__init__(host, 0, timeout)
        except TunnelError:
            raise
        except (imaplib.IMAP4.abort, OSError, EOFError) as exc:
            import ssl

            if isinstance(exc, ssl.SSLError):
                raise  # a TLS problem, reported as such by the caller
            # imaplib has already shut the connection down (and so reaped the child).
            raise TunnelError(self._failure(exc)) from None

    def _failure(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return "timed out waiting for the server greeting through the tunnel"
        status = self.process.returncode if self.process is not None else None
        if status:
            return f"tunnel command exited with status {status} before the server greeting"
        text = str(exc) or type(exc).__name__
        if isinstance(exc, imaplib.IMAP4.abort) and not text.endswith("EOF"):
            return f"no usable server greeting through the tunnel ({text})"
        return f"tunnel closed before the server greeting ({text})"

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        ours, theirs = socket.socketpair()
        try:
            log.debug("starting tunnel: %s", self.command)
            self.process = subprocess.Popen(  # noqa: S603 - the user's configured command
                ["/bin/sh", "-c", self.command],
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise TunnelError(f"cannot start tunnel command: {exc.strerror or exc}") from None
        finally:
            theirs.close()
        if timeout:
            ours.settimeout(timeout)
        if self._imaps_context is not None:
            try:
                return self._imaps_context.wrap_socket(ours, server_hostname=self.host or None)
            except BaseException:
                ours.close()
                self._reap()
                raise
        return ours

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            self._reap()

    def _reap(self) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        # The command sees EOF on its stdin now; give it a moment to exit on its own.
        try:
            proc.wait(timeout=_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            log.debug("tunnel command did not exit; killing it")
            proc.kill()
            proc.wait()
        if proc.returncode:
            log.debug("tunnel command exited with status %s", proc.returncode)


def open_tunnel(
    command: str,
    *,
    host: str,
    ssl_context: ssl.SSLContext | None,
    timeout: float | None,
) -> Any:
    """An ``imapclient.IMAPClient`` whose connection is the tunnel ``command``.

    ``ssl_context`` makes it IMAPS through the tunnel; for STARTTLS pass None here and
    call ``starttls`` as usual. Raises TunnelError when the command fails early.
    """
    from imapclient import IMAPClient  # type: ignore[import-untyped]
    from imapclient.imapclient import SocketTimeout  # type: ignore[import-untyped]

    class TunnelClient(IMAPClient):  # type: ignore[misc]
        def _create_IMAP4(self) -> TunnelIMAP4:  # noqa: N802 - imapclient's name
            return TunnelIMAP4(command, host=host, ssl_context=ssl_context, timeout=timeout)

    # ssl=False: imapclient must not wrap anything itself; IMAPS is done in the tunnel.
    return TunnelClient(host or "tunnel", ssl=False, timeout=SocketTimeout(timeout, timeout))
