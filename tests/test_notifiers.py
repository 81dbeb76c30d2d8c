"""Each channel against a real local server: what goes over the wire, errors, secrets kept."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipeline.config import (
    AlertsConfig,
    EmailChannel,
    SlackChannel,
    TelegramChannel,
    WebhookChannel,
)
from pipeline.notifiers import (
    ChannelConfigError,
    DeliveryError,
    EmailNotifier,
    Message,
    SlackNotifier,
    TelegramNotifier,
    WebhookNotifier,
    build_notifiers,
    sign,
    verify_signature,
)
from tests.local_smtp import free_port, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

HOSTILE = "<!channel> Terrible & <https://evil.test|click here>\nline two"
MESSAGE = Message(
    key="revmon-alert-7",
    subject="[revmon] 1★ negative review\r\nBcc: victim@example.test",
    text=HOSTILE,
    url="https://example.test/r/1?a=1&b=2",
    data={"rule": "neg", "review_id": 1},
)


def email_channel(port: int, **kw: object) -> EmailChannel:
    return EmailChannel(
        type="email",
        smtp_port=port,
        smtp_host="127.0.0.1",
        from_addr="revmon@example.test",
        to=["manager@example.test", "owner@example.test"],
        **kw,
    )


def test_email_is_delivered_with_a_stable_message_id() -> None:
    with smtp_server(user="revmon", password="s3cret") as (inbox, port):
        channel = email_channel(port, username="revmon", password_env="REVMON_SMTP_PASSWORD")
        EmailNotifier("mail", channel, SecretStr("s3cret")).send(MESSAGE)
    assert inbox.envelopes == [
        ("revmon@example.test", ["manager@example.test", "owner@example.test"])
    ]
    mail = inbox.messages[0]
    assert mail["Subject"] == "[revmon] 1★ negative review Bcc: victim@example.test"  # one line
    assert mail["Bcc"] is None
    assert mail["Message-ID"] == "<revmon-alert-7@revmon>"
    assert mail["From"] == "revmon@example.test"
    assert mail["To"] == "manager@example.test, owner@example.test"
    assert mail.get_content_type() == "text/plain"
    body = mail.get_content().replace("\r\n", "\n")  # SMTP line endings
    assert body == HOSTILE + "\n\nhttps://example.test/r/1?a=1&b=2\n"


def test_email_errors_are_classified() -> None:
    with smtp_server(user="revmon", password="s3cret") as (inbox, port):
        wrong = EmailNotifier("mail", email_channel(port, username="revmon"), SecretStr("nope"))
        with pytest.raises(DeliveryError, match="mail: SMTP 535") as info:
            wrong.send(MESSAGE)
        assert info.value.permanent
        assert "nope" not in str(info.value)
    with smtp_server() as (inbox, port):
        bounce = EmailChannel(**{**email_channel(port).model_dump(), "to": ["bounce@example.test"]})
        with pytest.raises(DeliveryError) as info:
            EmailNotifier("mail", bounce, None).send(MESSAGE)
        assert info.value.permanent
        later = EmailChannel(**{**email_channel(port).model_dump(), "to": ["later@example.test"]})
        with pytest.raises(DeliveryError) as info:
            EmailNotifier("mail", later, None).send(MESSAGE)
        assert not info.value.permanent
        assert inbox.messages == []
    with pytest.raises(DeliveryError, match="mail: SMTP ConnectionRefusedError") as info:
        EmailNotifier("mail", email_channel(free_port()), None).send(MESSAGE)
    assert not info.value.permanent


def test_slack_escapes_review_text(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/services/T1/B2/xyz", method="POST").respond_with_data("ok")
    url = SecretStr(httpserver.url_for("/services/T1/B2/xyz"))
    SlackNotifier("ops", SlackChannel(type="slack", webhook_url_env="REVMON_X"), url).send(MESSAGE)
    httpserver.check_assertions()
    request, _ = httpserver.log[0]
    assert request.headers["Content-Type"] == "application/json"
    assert request.get_json() == {
        "text": "*[revmon] 1★ negative review\r\nBcc: victim@example.test*\n"
        "&lt;!channel&gt; Terrible &amp; &lt;https://evil.test|click here&gt;\nline two\n"
        "<https://example.test/r/1?a=1&amp;b=2|Open the review>"
    }


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (429, False), (404, True)])
def test_http_errors_keep_secrets_out(httpserver: HTTPServer, status: int, permanent: bool) -> None:
    path = "/services/T1/B2/topsecret"
    httpserver.expect_request(path).respond_with_data(f"no such hook {path}", status=status)
    url = SecretStr(httpserver.url_for(path))
    notifier = SlackNotifier("ops", SlackChannel(type="slack", webhook_url_env="REVMON_X"), url)
    with pytest.raises(DeliveryError) as info:
        notifier.send(MESSAGE)
    assert info.value.permanent is permanent
    assert str(info.value).startswith(f"ops: HTTP {status}")
    assert "topsecret" not in str(info.value)


def test_unreachable_http_channel_is_retryable() -> None:
    url = SecretStr(f"http://127.0.0.1:{free_port()}/hook")
    notifier = SlackNotifier("ops", SlackChannel(type="slack", webhook_url_env="REVMON_X"), url)
    with pytest.raises(DeliveryError, match="ops: ConnectError") as info:
        notifier.send(MESSAGE)
    assert not info.value.permanent


def test_telegram_send_message(httpserver: HTTPServer) -> None:
    token = "123456:ABC-secret"
    httpserver.expect_oneshot_request(
        f"/tg/bot{token}/sendMessage", method="POST"
    ).respond_with_json({"ok": True, "result": {"message_id": 1}})
    channel = TelegramChannel(
        type="telegram",
        base_url=httpserver.url_for("/tg/"),
        bot_token_env="REVMON_TG",
        chat_id="-100",
    )
    TelegramNotifier("tg", channel, SecretStr(token)).send(MESSAGE)
    httpserver.check_assertions()
    body = httpserver.log[0][0].get_json()
    assert body == {
        "chat_id": "-100",
        "text": f"{MESSAGE.subject}\n\n{HOSTILE}\n\nhttps://example.test/r/1?a=1&b=2",
        "disable_web_page_preview": True,
    }
    assert "parse_mode" not in body  # plain text: review text cannot inject markup

    httpserver.expect_oneshot_request(f"/tg/bot{token}/sendMessage").respond_with_json(
        {"ok": False, "description": f"bad token {token}"}, status=401
    )
    with pytest.raises(DeliveryError) as info:
        TelegramNotifier("tg", channel, SecretStr(token)).send(MESSAGE)
    assert info.value.permanent and "ABC-secret" not in str(info.value)


def test_webhook_is_signed_and_verifiable(httpserver: HTTPServer) -> None:
    received: list[Request] = []

    def handler(request: Request) -> Response:
        received.append(request)
        ok = verify_signature(
            b"hook-key",
            request.headers["X-Revmon-Timestamp"],
            request.get_data(),
            request.headers["X-Revmon-Signature"],
        )
        return Response("ok" if ok else "bad signature", status=200 if ok else 401)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    channel = WebhookChannel(type="webhook", url=httpserver.url_for("/hook"), secret_env="REVMON_K")
    notifier = WebhookNotifier("hook", channel, SecretStr(channel.url or ""), SecretStr("hook-key"))
    notifier.send(MESSAGE)
    request = received[0]
    body = request.get_data()
    assert json.loads(body) == {
        "id": "revmon-alert-7",
        "subject": MESSAGE.subject,
        "text": HOSTILE,
        "url": MESSAGE.url,
        "data": {"rule": "neg", "review_id": 1},
    }
    assert request.headers["X-Revmon-Delivery"] == "revmon-alert-7"
    stamp, signature = request.headers["X-Revmon-Timestamp"], request.headers["X-Revmon-Signature"]
    assert abs(int(stamp) - time.time()) < 5
    assert signature == sign(b"hook-key", stamp, body) and signature.startswith("sha256=")
    assert not verify_signature(b"hook-key", stamp, body + b" ", signature)  # tampered body
    assert not verify_signature(b"other-key", stamp, body, signature)
    assert not verify_signature(b"hook-key", str(int(stamp) - 600), body, signature)  # replayed
    assert not verify_signature(b"hook-key", "yesterday", body, signature)

    wrong_key = WebhookNotifier("hook", channel, SecretStr(channel.url or ""), SecretStr("guess"))
    with pytest.raises(DeliveryError, match="hook: HTTP 401 bad signature"):
        wrong_key.send(MESSAGE)


def test_build_notifiers_reads_secrets_from_env_only() -> None:
    config = AlertsConfig(
        channels={
            "mail": {
                "type": "email",
                "from_addr": "a@b.c",
                "to": ["x@y.z"],
                "username": "u",
                "password_env": "REVMON_SMTP_PASSWORD",
            },
            "ops": {"type": "slack", "webhook_url_env": "REVMON_SLACK_OPS"},
            "tg": {"type": "telegram", "bot_token_env": "REVMON_TG_TOKEN", "chat_id": "1"},
            "hook": {
                "type": "webhook",
                "url_env": "REVMON_HOOK_URL",
                "secret_env": "REVMON_HOOK_KEY",
            },
        }
    )
    env = {
        "REVMON_SMTP_PASSWORD": "pw",
        "REVMON_SLACK_OPS": "https://hooks.slack.test/services/x",
        "REVMON_TG_TOKEN": "1:t",
        "REVMON_HOOK_URL": "https://hooks.example.test/in",
        "REVMON_HOOK_KEY": "k",
    }
    built = build_notifiers(config, env)
    assert {name: type(n).__name__ for name, n in built.items()} == {
        "mail": "EmailNotifier",
        "ops": "SlackNotifier",
        "tg": "TelegramNotifier",
        "hook": "WebhookNotifier",
    }
    assert "hooks.slack.test" not in repr(vars(built["ops"]))
    for notifier in built.values():
        notifier.close()
    for missing, field in [
        ("REVMON_SMTP_PASSWORD", "alerts.channels.mail.password_env"),
        ("REVMON_SLACK_OPS", "alerts.channels.ops.webhook_url_env"),
        ("REVMON_TG_TOKEN", "alerts.channels.tg.bot_token_env"),
        ("REVMON_HOOK_URL", "alerts.channels.hook.url_env"),
        ("REVMON_HOOK_KEY", "alerts.channels.hook.secret_env"),
    ]:
        with pytest.raises(
            ChannelConfigError, match=f"{field}: environment variable {missing} is not set"
        ):
            build_notifiers(config, {k: v for k, v in env.items() if k != missing})
    with pytest.raises(
        ChannelConfigError, match="alerts.channels.ops: the URL must start with http"
    ):
        build_notifiers(config, {**env, "REVMON_SLACK_OPS": "file:///etc/passwd"})
