"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for alert tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Inbox:
    """Accepts mail; recipients starting with ``bounce`` get 550, ``later`` get 451 while
    ``deferring``; QUIT is answered with ``quit_reply``; each command may take ``delay_s``."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.deferring = True
        self.quit_reply = "221 Bye"
        self.delay_s = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:  # noqa: N802
        await asyncio.sleep(self.delay_s)
        if address.startswith("bounce"):
            return "550 5.1.1 no such user"
        if address.startswith("later") and self.deferring:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        return self.quit_reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay_s)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def smtp_server(
    user: str | None = None, password: str | None = None, port: int | None = None
) -> Iterator[tuple[Inbox, int]]:
    """Run the server; with ``user``, AUTH is required (plain text is fine on loopback)."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    if user:

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
                user.encode(),
                (password or "").encode(),
            )
            return AuthResult(success=ok, handled=False)

        kwargs = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
